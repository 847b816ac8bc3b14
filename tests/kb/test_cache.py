"""Opening a KB from settings: the index cache is keyed by content (edited KB →
rebuilt, unchanged → loaded), survives damage, and hot reload keeps the old KB when
the new one is invalid."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from core.settings import load_settings
from kb import KBError, KBHolder, open_kb, text
from kb.base import BUNDLED_KB
from kb.lexical import LexicalIndex
from tests.support import FIXTURES
from tests.support.kb import kb_settings

FIXTURE = FIXTURES / "kb_good"


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "kb"))


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts lexical index builds (a cache hit builds nothing)."""
    calls: list[int] = []
    original = LexicalIndex.build.__func__  # type: ignore[attr-defined]

    def counting(cls: type[LexicalIndex], sections: Any) -> LexicalIndex:
        calls.append(len(sections))
        return original(cls, sections)

    monkeypatch.setattr(LexicalIndex, "build", classmethod(counting))
    return calls


def entries(cache: Path, kind: str = "lexical") -> list[Path]:
    return sorted(p for p in cache.glob(f"{kind}-*") if p.is_dir())


def edit_facts(kb_dir: Path, old: str, new: str) -> None:
    file = kb_dir / "pricing.yaml"
    file.write_text(file.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_unchanged_kb_is_loaded_from_cache(
    kb_copy: Path, tmp_path: Path, builds: list[int]
) -> None:
    settings = kb_settings(kb_copy, tmp_path / "cache")
    first = open_kb(settings)
    assert builds == [12] and len(entries(tmp_path / "cache")) == 1
    second = open_kb(settings)
    assert builds == [12]  # nothing rebuilt
    query = "сколько стоит тариф стандарт"
    assert [h.topic for h in first.search(query)] == [h.topic for h in second.search(query)]
    assert first.content_hash == second.content_hash


def test_edited_kb_is_reindexed(kb_copy: Path, tmp_path: Path, builds: list[int]) -> None:
    settings = kb_settings(kb_copy, tmp_path / "cache")
    before = open_kb(settings)
    edit_facts(kb_copy, "семь дней", "четырнадцать дней с демонстрацией")
    after = open_kb(settings)
    assert len(builds) == 2 and len(entries(tmp_path / "cache")) == 2
    assert before.content_hash != after.content_hash
    assert after.search("демонстрация")[0].topic == "pricing_trial"
    assert before.search("демонстрация") == []


def test_damaged_cache_entry_is_rebuilt(kb_copy: Path, tmp_path: Path, builds: list[int]) -> None:
    settings = kb_settings(kb_copy, tmp_path / "cache")
    open_kb(settings)
    (entry,) = entries(tmp_path / "cache")
    (entry / "tokens.json").write_text("{not json", encoding="utf-8")
    kb = open_kb(settings)
    assert len(builds) == 2 and kb.search("рассрочка")[0].topic == "pricing_installment"


def test_unwritable_or_disabled_cache_still_opens(kb_copy: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    assert len(open_kb(kb_settings(kb_copy, blocker / "cache"))) == 12
    assert len(open_kb(kb_settings(kb_copy, ""))) == 12


def test_kb_cache_dir_environment_overrides_settings(
    kb_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KB_PATH", str(kb_copy))
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "from-env"))
    settings = load_settings()
    assert settings.kb.cache_dir == str(tmp_path / "from-env")
    open_kb(settings.kb)
    assert entries(tmp_path / "from-env")


def test_settings_values_reach_the_kb(kb_copy: Path, tmp_path: Path) -> None:
    kb = open_kb(kb_settings(kb_copy, tmp_path / "cache", category_boost=0.4))
    assert kb.min_score == 0.25 and kb.category_boost == 0.4 and kb.dense is None


def test_path_none_is_the_bundled_kb(tmp_path: Path) -> None:
    kb = open_kb(kb_settings(None, tmp_path / "cache"))
    assert kb.source == BUNDLED_KB and len(kb) > 0


def test_invalid_kb_raises_with_every_error(tmp_path: Path) -> None:
    bad = FIXTURE.parent / "kb_bad"
    with pytest.raises(KBError) as info:
        open_kb(kb_settings(bad, tmp_path / "cache"))
    assert len(info.value.errors) == 7


def test_holder_swaps_in_a_valid_kb(kb_copy: Path, tmp_path: Path) -> None:
    holder = KBHolder(kb_settings(kb_copy, tmp_path / "cache"))
    old = holder.current
    edit_facts(kb_copy, "семь дней", "тридцать дней")
    new = holder.reload()
    assert holder.current is new is not old
    assert "тридцать" in new.search("пробный период")[0].facts
    assert "семь" in old.search("пробный период")[0].facts  # in-flight users unaffected


def test_holder_keeps_the_old_kb_when_the_new_one_is_invalid(kb_copy: Path, tmp_path: Path) -> None:
    holder = KBHolder(kb_settings(kb_copy, tmp_path / "cache"))
    old = holder.current
    (kb_copy / "broken.yaml").write_text("sections:\n- topic: [unclosed\n", encoding="utf-8")
    with pytest.raises(KBError) as info:
        holder.reload()
    assert "broken.yaml" in info.value.errors[0]
    assert holder.current is old
    assert holder.current.search("рассрочка")[0].topic == "pricing_installment"


def test_changed_word_lists_reindex(
    kb_copy: Path, tmp_path: Path, builds: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:

    settings = kb_settings(kb_copy, tmp_path / "cache")
    open_kb(settings)
    monkeypatch.setattr(text, "ALIASES", {**text.ALIASES, "кассочка": "касса"})
    open_kb(settings)
    assert len(builds) == 2

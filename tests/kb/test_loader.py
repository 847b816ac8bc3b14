"""KB loading: every validation error is reported with its file and topic, editor
notes never reach the facts, and the content hash follows content, not formatting."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.loader import KBError, content_hash, read_kb, split_editor_notes
from tests.support import FIXTURES

FIXTURES = FIXTURES
GOOD = FIXTURES / "kb_good"
BAD = FIXTURES / "kb_bad"

SECTION = """\
- topic: {topic}
  priority: {priority}
  keywords: {keywords}
  facts: {facts}
"""


def write_kb(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def section(
    topic: str = "t1", priority: str = "5", keywords: str = "[касса]", facts: str = "Факт."
) -> str:
    return SECTION.format(topic=topic, priority=priority, keywords=keywords, facts=facts)


def errors_of(root: Path) -> list[str]:
    with pytest.raises(KBError) as info:
        read_kb(root)
    return info.value.errors


def test_good_fixture_loads_and_skips_metadata() -> None:
    content = read_kb(GOOD)
    assert len(content.sections) == 12
    assert {s.category for s in content.sections} == {
        "products",
        "pricing",
        "delivery",
        "equipment",
        "support",
    }
    assert content.warnings == []
    kassa = next(s for s in content.sections if s.topic == "product_kassa")
    assert kassa.priority == 9 and kassa.source == "products.yaml"
    assert kassa.keywords == ("онлайн-касса", "wipon kassa", "касса на телефоне")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"broken.yaml": "sections:\n- topic: a\n  keywords: [x\n  facts: y\n"},
            ["broken.yaml:", "YAML syntax error"],
        ),
        ({"nosec.yaml": "topics: []\n"}, ["nosec.yaml", "sections"]),
        ({"empty.yaml": ""}, ["empty.yaml", "sections"]),
        ({"list.yaml": "sections: []\n"}, ["list.yaml", "non-empty list"]),
        (
            {"a.yaml": "sections:\n" + section("same"), "b.yaml": "sections:\n" + section("same")},
            ["b.yaml", "same", "duplicate topic", "a.yaml"],
        ),
        ({"p.yaml": "sections:\n" + section(facts='""')}, ["p.yaml", "t1", "facts"]),
        ({"p.yaml": "sections:\n" + section(facts="[1, 2]")}, ["p.yaml", "t1", "facts"]),
        ({"p.yaml": "sections:\n" + section(priority="0")}, ["p.yaml", "t1", "priority"]),
        ({"p.yaml": "sections:\n" + section(priority="11")}, ["p.yaml", "t1", "priority"]),
        ({"p.yaml": "sections:\n" + section(priority="high")}, ["p.yaml", "t1", "priority"]),
        ({"p.yaml": "sections:\n" + section(priority="true")}, ["p.yaml", "t1", "priority"]),
        ({"p.yaml": "sections:\n" + section(keywords="касса")}, ["p.yaml", "t1", "keywords"]),
        ({"p.yaml": "sections:\n" + section(keywords="[1, 2]")}, ["p.yaml", "t1", "keywords"]),
        ({"p.yaml": "sections:\n" + section(topic='""')}, ["p.yaml", "section #1", "topic"]),
        ({"p.yaml": "sections:\n- just text\n"}, ["p.yaml", "section #1", "mapping"]),
        (
            {"p.yaml": "sections:\n" + section(facts='"⚠️ НЕ ПУТАТЬ: только заметка"')},
            ["p.yaml", "t1", "facts are empty"],
        ),
    ],
)
def test_each_error_names_file_and_topic(
    tmp_path: Path, files: dict[str, str], expected: list[str]
) -> None:
    errors = errors_of(write_kb(tmp_path / "kb", files))
    assert len(errors) == 1, errors
    for fragment in expected:
        assert fragment in errors[0]


def test_all_errors_are_reported_at_once() -> None:
    errors = errors_of(BAD)
    text = "\n".join(errors)
    assert len(errors) == 7
    for fragment in (
        "broken.yaml:5",
        "nosections.yaml",
        "pricing_bad_priority",
        "pricing_bad_keywords",
        "pricing_empty_facts",
        "section #5",
        "product_kassa: duplicate topic",
    ):
        assert fragment in text


def test_missing_directory_and_directory_without_yaml(tmp_path: Path) -> None:
    assert "not a directory" in errors_of(tmp_path / "nope")[0]
    write_kb(tmp_path / "meta-only", {"_meta.yaml": "a: 1\n"})
    assert "no category files" in errors_of(tmp_path / "meta-only")[0]


def test_unknown_key_is_a_warning_not_an_error(tmp_path: Path) -> None:
    text = "sections:\n" + section() + "  ПАРАМЕТРЫ: lost line\n"
    content = read_kb(write_kb(tmp_path / "kb", {"p.yaml": text}))
    assert len(content.sections) == 1
    assert len(content.warnings) == 1 and "p.yaml: t1" in content.warnings[0]


@pytest.mark.parametrize(
    "note",
    [
        "⚠️ НЕ ПУТАТЬ: «Тариф Pro» — программа, «Комплект PRO» — оборудование.",
        "• ⚠️ НЕ ПУТАТЬ: цена 220 000 ₸ относится к программе.",
        "⚠ НЕ ПУТАТЬ: без вариационного селектора.",
        "Не путать: ТИС — это не касса.",
        "- ❗ Для редактора: проверить цену.",
    ],
)
def test_editor_notes_are_cut_from_facts(note: str) -> None:
    facts = f"Первая строка.\n\nПАРАМЕТРЫ:\n• Цена: 12 000 ₸\n\n{note}\n"
    kept, notes = split_editor_notes(facts)
    assert kept == "Первая строка.\n\nПАРАМЕТРЫ:\n• Цена: 12 000 ₸"
    assert notes == (note.strip(),)


def test_fact_lines_that_only_mention_confusion_stay() -> None:
    facts = "Модуль, не тариф.\n• Примечание: бесплатно при использовании программы."
    assert split_editor_notes(facts) == (facts, ())


def test_fixture_facts_have_no_editor_notes() -> None:
    sections = read_kb(GOOD).sections
    assert sum(len(s.notes) for s in sections) == 3
    for s in sections:
        assert "путать" not in s.facts.lower() and "⚠" not in s.facts


def test_content_hash_ignores_formatting_but_not_content(tmp_path: Path) -> None:
    plain = "sections:\n" + section(facts="Касса бесплатна.")
    commented = "# comment\nsections:\n\n" + section(facts="'Касса бесплатна.'")
    changed = "sections:\n" + section(facts="Касса платная.")
    hashes = [
        content_hash(read_kb(write_kb(tmp_path / name, {"p.yaml": text})).sections)
        for name, text in (("a", plain), ("b", commented), ("c", changed))
    ]
    assert hashes[0] == hashes[1] != hashes[2]


def test_synonyms_come_from_the_bundled_file_and_the_kb_adds_its_own(tmp_path: Path) -> None:
    from kb.loader import bundled_synonyms

    domain = bundled_synonyms()
    assert any("снр" in group for group in domain)  # tax-regime abbreviations
    plain = write_kb(tmp_path / "plain", {"faq.yaml": f"sections:\n{section()}"})
    assert read_kb(plain).synonyms == domain
    own = write_kb(
        tmp_path / "own",
        {
            "faq.yaml": f"sections:\n{section()}",
            "_synonyms.yaml": "synonyms:\n  - [касса, кассовый аппарат]\n  - [лоток, поддон]\n",
        },
    )
    assert read_kb(own).synonyms == (*domain, ("касса", "кассовый аппарат"), ("лоток", "поддон"))


def test_a_broken_synonyms_file_is_reported_with_the_sections_errors(tmp_path: Path) -> None:
    root = write_kb(
        tmp_path / "kb",
        {"faq.yaml": f"sections:\n{section()}", "_synonyms.yaml": "synonyms:\n  - [одно]\n"},
    )
    assert errors_of(root) == ["_synonyms.yaml: group #1: a list of two or more words expected"]
    (root / "_synonyms.yaml").write_text("groups: []\n", encoding="utf-8")
    assert errors_of(root) == ["_synonyms.yaml: missing top-level `synonyms:` list of groups"]

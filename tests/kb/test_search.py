"""Lexical search on the fixture KB: robustness of matching, the category boost,
the relevance floor, and the shape of the hits."""

from __future__ import annotations

import time

import pytest

from kb import Hit, KnowledgeBase, Section
from kb.lexical import LexicalIndex
from kb.loader import bundled_synonyms, read_kb
from tests.support import FIXTURES

FIXTURE = FIXTURES / "kb_good"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase(read_kb(FIXTURE).sections, min_score=0.25)


def top(kb: KnowledgeBase, query: str, categories: list[str] | None = None) -> str | None:
    hits = kb.search(query, 3, categories)
    return hits[0].topic if hits else None


@pytest.mark.parametrize(
    ("queries", "topic"),
    [
        (
            [
                "сколько стоит тариф стандарт",
                "СКОЛЬКО СТОИТ ТАРИФ STANDARD",
                "сколко стоит тарф стандарт",  # typos
                "Тариф Standart, цена?",
            ],
            "pricing_standard",
        ),
        (["есть рассрочка?", "а в кредит можно?", "оплата частями"], "pricing_installment"),
        (["вайпон касса", "Wipon Kassa", "ккм на телефоне", "онлайн касса"], "product_kassa"),
        (["тис для ип", "TIS для ИП", "трехкомпонентная система"], "product_tis"),
        (["вайпон про", "Wipon PRO цена", "проверка алкоголя"], "product_pro_ukm"),
        (["принтр чеков", "Принтер для чеков", "чековый принтер XP-58"], "equipment_printer"),
        (["сканнер штрихкодов", "сканер штрих-кодов"], "equipment_scanner"),
        (["есть ли пробный период?", "можно бесплатно попробовать?"], "pricing_trial"),
        (["доставка в Караганду сколько дней"], "delivery_terms"),
    ],
)
def test_real_questions_find_their_section(
    kb: KnowledgeBase, queries: list[str], topic: str
) -> None:
    for query in queries:
        assert top(kb, query) == topic, query


@pytest.mark.parametrize(
    "query",
    [
        "какая погода в Париже",
        "расскажи анекдот",
        "кто выиграл чемпионат мира по футболу",
        "hello, how are you?",
        "ок, спасибо",
        "",
        "???",
    ],
)
def test_off_topic_questions_get_nothing(kb: KnowledgeBase, query: str) -> None:
    assert kb.search(query, 5) == []


def test_the_floor_can_be_lowered_but_scores_stay_in_range(kb: KnowledgeBase) -> None:
    query = "сколько стоит доставка в Париж"
    floored = kb.search(query, 10)
    unfloored = kb.search(query, 10, min_score=0.0)
    assert len(unfloored) == 10 > len(floored)
    assert all(0.0 <= h.score <= 1.0 for h in unfloored)
    assert all(h.score >= kb.min_score for h in floored)
    strict = KnowledgeBase(kb.sections, min_score=0.99, lexical=kb.lexical)
    assert strict.search(query, 10) == []


def test_phase_categories_are_boosted_not_filtered(kb: KnowledgeBase) -> None:
    # Two sections that answer equally well, in different categories: the
    # current phase's category decides, and the other one is still offered.
    twins = [
        Section("delivery_free", "delivery", 7, ("доставка",), "Доставка комплекта бесплатна."),
        Section("pricing_free", "pricing", 7, ("доставка",), "Доставка комплекта бесплатна."),
        Section("support_hours", "support", 7, ("поддержка",), "Поддержка работает с 9 до 21."),
    ]
    small = KnowledgeBase(twins, min_score=0.25)
    for phase in ("delivery", "pricing"):
        hits = small.search("бесплатная доставка", 5, [phase])
        assert [h.category for h in hits] == [
            phase,
            "pricing" if phase == "delivery" else "delivery",
        ]
    # A boost cannot lift an irrelevant section above the floor.
    boosted = small.search("бесплатная доставка", 5, ["support"])
    assert "support_hours" not in {h.topic for h in boosted}
    assert kb.search("какая погода в Париже", 3, ["support"]) == []


def test_kazakh_questions_find_the_kazakh_section() -> None:
    sections = [
        Section(
            "features_kazakh",
            "features",
            8,
            ("қазақ тілі", "қазақша интерфейс", "на казахском"),
            "Интерфейс Wipon есть на казахском языке.",
        ),
        Section("delivery_terms", "delivery", 7, ("доставка",), "Доставка 2-3 дня."),
        Section("support_hours", "support", 7, ("поддержка",), "Поддержка с 9 до 21."),
    ]
    small = KnowledgeBase(sections, min_score=0.25)
    for query in ("Қазақша интерфейс бар ма?", "Қазақ тілінде жұмыс істейді ма?"):
        assert [h.topic for h in small.search(query)] == ["features_kazakh"], query


def test_hits_carry_facts_without_editor_notes(kb: KnowledgeBase) -> None:
    hits = kb.search("бесплатная касса на телефоне, сколько стоит программа учёта", 10)
    assert hits and all(isinstance(h, Hit) for h in hits)
    kassa = next(h for h in hits if h.topic == "product_kassa")
    assert kassa.facts.startswith("Wipon Kassa — онлайн-касса")
    for hit in kb.search("стандарт комплект тариф тис касса", 10, min_score=0.0):
        assert "ПУТАТЬ" not in hit.facts.upper() and "⚠" not in hit.facts
    assert set(kassa.extra) == {"lexical", "coverage"}


def test_k_and_interface(kb: KnowledgeBase) -> None:
    assert len(kb.search("доставка оборудования", 1)) == 1
    assert kb.search("доставка", 0) == []
    assert len(kb) == 12 and len(kb.sections) == 12
    assert len(kb.content_hash) == 64
    assert kb.get("pricing_trial") is not None and kb.get("nope") is None
    assert "pricing" in kb.categories


def test_search_takes_milliseconds(kb: KnowledgeBase) -> None:
    kb.search("разогрев кэша лемм", 5)
    started = time.perf_counter()
    for _ in range(50):
        kb.search("сколько стоит доставка сканера в Караганду", 5, ["pricing"])
    assert (time.perf_counter() - started) / 50 < 0.02


def test_a_kb_synonym_group_extends_the_query_at_search_time(kb: KnowledgeBase) -> None:
    sections = read_kb(FIXTURE).sections
    assert top(kb, "самописец") is None
    groups = (*bundled_synonyms(), ("самописец", "принтер"))
    extended = KnowledgeBase(sections, min_score=0.25, lexical=LexicalIndex.build(sections, groups))
    assert top(extended, "самописец") == "equipment_printer"
    # A cached index takes the KB's groups without being rebuilt.
    reused = LexicalIndex.build(sections)
    reused.use_synonyms(groups)
    assert top(KnowledgeBase(sections, min_score=0.25, lexical=reused), "самописец") == (
        "equipment_printer"
    )


def test_a_reflexive_query_verb_also_finds_its_base_verb() -> None:
    sections = [
        Section("writeoff", "inventory", 5, ("списание",), "Товар списывают в разделе «Склад»."),
        Section("login", "support", 5, ("вход",), "Кассир входит по ПИН-коду."),
    ]
    index = LexicalIndex.build(sections)
    alternatives = index.expand("как списывается товар")[0].alternatives
    assert alternatives == {"списываться": 1.0, "списывать": 0.8}
    # Only towards a base verb the KB has: "учиться" has none here.
    assert index.expand("учится")[0].alternatives == {"учиться": 1.0}
    kb = KnowledgeBase(sections, min_score=0.25, lexical=index)
    assert top(kb, "как списывается товар") == "writeoff"

"""The near-duplicate detector and the contradiction finder on small synthetic KBs."""

from __future__ import annotations

from kb.contradictions import contradictions, figures, polarity
from kb.neardup import NearDuplicates, acceptable_topics
from kb.types import Section
from tests.kb.synthetic import FILLER_FACTS


def _section(topic: str, facts: str, category: str = "support") -> Section:
    return Section(topic, category, 5, (), facts, source=f"{category}.yaml")


_FILLER = [_section(f"filler_{i}", text) for i, text in enumerate(FILLER_FACTS)]
WEEKEND_A = _section(
    "support_weekend_a",
    "Техподдержка Wipon работает в выходные: суббота и воскресенье.\n"
    "• Режим: ежедневно\n• Каналы: чат и телефон",
)
WEEKEND_B = _section(
    "support_weekend_b",
    "Поддержка Wipon доступна в выходные дни, суббота и воскресенье без перерыва.\n"
    "• Режим: ежедневно\n• Каналы: чат, телефон",
)
AKTAU = _section(
    "delivery_aktau",
    "Доставка оборудования в город Актау курьером.\n• Срок доставки: 3 рабочих дня",
    "delivery",
)
KHROMTAU = _section(
    "delivery_khromtau",
    "Доставка оборудования в город Хромтау курьером.\n• Срок доставки: 3 рабочих дня",
    "delivery",
)


def test_paraphrased_sections_cover_each_other() -> None:
    detector = NearDuplicates([*_FILLER, WEEKEND_A, WEEKEND_B, AKTAU, KHROMTAU])
    assert detector.similarity("support_weekend_a", "support_weekend_b") >= detector.threshold
    assert detector.equivalents("support_weekend_a") == ["support_weekend_b"]
    assert [(p.first, p.second) for p in detector.duplicates()] == [
        ("support_weekend_a", "support_weekend_b")
    ]


def test_the_same_template_about_another_city_is_not_equivalent() -> None:
    detector = NearDuplicates([*_FILLER, WEEKEND_A, WEEKEND_B, AKTAU, KHROMTAU])
    # Worded alike, but each names a city the other does not.
    assert detector.similarity("delivery_aktau", "delivery_khromtau") >= detector.threshold
    assert detector.equivalents("delivery_aktau") == []
    assert not detector.same_subject("delivery_aktau", "delivery_khromtau")


def test_an_overview_covers_a_detail_but_not_the_reverse() -> None:
    detail = _section("pricing_pro", "Тариф Pro стоит 500 000 ₸ в год.\n• Точки: до 3", "pricing")
    overview = _section(
        "pricing_all",
        "Тарифы Wipon: Standard 220 000 ₸ в год, Pro 500 000 ₸ в год.\n• Точки: до 3",
        "pricing",
    )
    detector = NearDuplicates([*_FILLER, detail, overview], threshold=0.2)
    assert detector.covers("pricing_pro", "pricing_all")
    assert not detector.covers("pricing_all", "pricing_pro")
    sets = acceptable_topics(detector, ["pricing_pro", "pricing_all", "unknown_topic"])
    assert sets == {
        "pricing_pro": ["pricing_pro", "pricing_all"],
        "pricing_all": ["pricing_all"],
        "unknown_topic": ["unknown_topic"],
    }


def test_standard_plus_is_another_subject_than_standard() -> None:
    plain = _section("kit_standard", "Комплект Standard: моноблок и сканер.", "equipment")
    plus = _section("kit_standard_plus", "Комплект Standard+: моноблок и сканер.", "equipment")
    detector = NearDuplicates([*_FILLER, plain, plus])
    assert not detector.same_subject("kit_standard", "kit_standard_plus")
    assert detector.equivalents("kit_standard") == []


def test_figures_read_numbers_with_units_and_compare_durations() -> None:
    found = figures("Гарантия: 1 год\nРассрочка 0-0-12, доставка 3 000 ₸.\nМодель i5")
    assert {(f.unit, f.value) for f in found} == {("day", 365.0), ("₸", 3000.0)}
    assert {f.text for f in found} == {"1 год", "3 000 ₸"}


def test_polarity_of_a_parameter_value() -> None:
    assert polarity("да") is True
    assert polarity("поддерживается") is True
    assert polarity("нет, только онлайн") is False
    assert polarity("не поддерживается") is False
    assert polarity("Алматы, Астана") is None


def _findings(*sections: Section) -> list[tuple[str, str]]:
    detector = NearDuplicates([*_FILLER, *sections], floor=0.2)
    facts = {s.topic: s.facts for s in [*_FILLER, *sections]}
    return [(f.kind, f.about) for f in contradictions(detector, facts)]


def test_a_warranty_told_two_ways_is_a_contradiction() -> None:
    a = _section("equipment_warranty", "Гарантия на кассу Wipon.\n• Гарантия: 12 месяцев")
    b = _section("equipment_warranty_2", "Гарантия на кассу Wipon.\n• Гарантия: 2 года")
    assert _findings(a, b) == [("figure", "гарантия")]
    same = _section("equipment_warranty_3", "Гарантия на кассу Wipon.\n• Гарантия: 1 год")
    assert _findings(a, same) == []


def test_supported_beside_not_supported_is_a_contradiction() -> None:
    a = _section("inventory_serial", "Учёт серийных номеров телефонов.\n• Учёт по IMEI: да")
    b = _section("inventory_no_serial", "Учёт серийных номеров телефонов.\n• Учёт по IMEI: нет")
    assert _findings(a, b) == [("polarity", "Учёт по IMEI")]


def test_a_kit_with_other_contents_is_a_contradiction_told_in_other_words_is_not() -> None:
    a = _section("kit_a", "Комплект Mini для кассы.\n• Состав: моноблок, сканер, чековый принтер")
    b = _section("kit_b", "Комплект Mini для кассы.\n• Состав: моноблок, сканер, денежный ящик")
    c = _section(
        "kit_c", "Комплект Mini для кассы.\n• Состав: сенсорный моноблок, сканер, принтер чеков"
    )
    assert _findings(a, b) == [("contents", "Состав")]
    assert _findings(a, c) == []


def test_different_products_with_different_prices_are_no_contradiction() -> None:
    a = _section("pos_i3", "Моноблок POS i3 для кассы.\n• Цена: 140 000 ₸", "equipment")
    b = _section("pos_i5", "Моноблок POS i5 для кассы.\n• Цена: 160 000 ₸", "equipment")
    assert _findings(a, b) == []


def test_a_place_name_the_dictionary_does_not_know_still_tells_sections_apart() -> None:
    first = _section("delivery_kyzylorda", "Да, доставляем в Кызылорду за 3 рабочих дня.")
    second = _section("delivery_ekibastuz", "Да, доставляем в Экибастуз за 3 рабочих дня.")
    detector = NearDuplicates([*_FILLER, first, second])
    assert detector.similarity("delivery_kyzylorda", "delivery_ekibastuz") >= detector.threshold
    assert detector.equivalents("delivery_kyzylorda") == []
    assert detector.equivalents("delivery_ekibastuz") == []

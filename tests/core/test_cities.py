"""Cities of Kazakhstan are found in any case form, and not inside other words."""

from __future__ import annotations

import pytest

from core.text.cities import cities_in, only_cities


@pytest.mark.parametrize(
    ("text", "cities"),
    [
        ("В Шымкенте к открытию филиала", {"Шымкент"}),
        ("По Алматы и Астане доставка бесплатна", {"Алматы", "Астана"}),
        ("г. Алматы", {"Алматы"}),
        ("в Караганде", {"Караганда"}),
        ("в Семее", {"Семей"}),
        ("Усть-Каменогорск", {"Оскемен"}),
        ("Нур-Султан", {"Астана"}),
        ("Түркістан", {"Туркестан"}),
        ("Орал", {"Уральск"}),
        ("доставка Алматы-Шымкент", {"Алматы", "Шымкент"}),
        ("Almaty", {"Алматы"}),
        ("в Уральске", {"Уральск"}),
        ("Нурсултан", {"Астана"}),
        ("г. Семей", {"Семей"}),
        ("для многодетных семей", set()),  # семья, not the city
        ("он орал", set()),
        ("рудный", set()),
        ("семейный бизнес", set()),
        ("семена и семестр", set()),
        ("уральский", set()),
        ("астанинский филиал", set()),
        ("оралман", set()),
        ("рудник", set()),
        ("магазин у дома", set()),
    ],
)
def test_cities_in(text: str, cities: set[str]) -> None:
    assert cities_in(text) == cities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Астана, Шымкент)", True),
        (" (Алматы и Астана)", True),
        ("в городах Алматы, Астана", True),
        ("Алматы — бесплатно", False),
        ("доставка", False),
        ("", False),
    ],
)
def test_only_cities(text: str, expected: bool) -> None:
    assert only_cities(text) is expected

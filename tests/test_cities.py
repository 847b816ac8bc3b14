"""Cities of Kazakhstan are found in any case form, and not inside other words."""

from __future__ import annotations

import pytest

from graph.cities import cities_in


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

"""Questions about known profile fields, recognised by their focus word's lemma."""

from __future__ import annotations

import pytest

from core.taxonomy import PROFILE_FIELDS
from rules.guards.reask import CUES, asked_fields, reasks_known


@pytest.mark.parametrize(
    ("sentence", "field"),
    [
        ("Из какого вы города?", "city"),
        ("В каком городе ваш магазин?", "city"),
        ("Где находится ваша точка?", "city"),
        ("Откуда вы?", "city"),
        ("Напишите, в каком вы городе.", "city"),
        ("А какой у вас магазин?", "business_type"),
        ("Чем занимается ваш бизнес?", "business_type"),
        ("Что вы продаёте?", "business_type"),
        ("Какая у вас сфера деятельности?", "business_type"),
        ("Сколько у вас магазинов?", "stores_count"),
        ("Как к вам обращаться?", "contact_name"),
        ("Подскажите, пожалуйста, ваш номер телефона.", "phone"),
        ("На какой номер вам перезвонить?", "phone"),
        ("Какой программой учёта вы пользуетесь?", "current_tools"),
        ("Ваш город?", "city"),
    ],
)
def test_a_question_about_a_field(sentence: str, field: str) -> None:
    assert asked_fields(sentence) == {field}


@pytest.mark.parametrize(
    "sentence",
    [
        "Какой тариф подойдёт вашему магазину?",
        "Для вашего магазина в Алматы подойдёт Standard, какой бюджет комфортен?",
        "Напишите, если будут вопросы по магазину.",
        "Менеджер позвонит вам по этому номеру, удобно?",
        "Это дороже, чем Lite, но есть учёт партий.",
        "Какая программа вам нужна?",
        "Что для вас важно уточнить перед решением?",
        "Магазин в Алматы подключается за день.",
    ],
)
def test_a_mention_is_no_question(sentence: str) -> None:
    assert asked_fields(sentence) == set()


def test_only_known_fields_are_reasked() -> None:
    assert reasks_known("Из какого вы города?", {"city": "Актобе"})
    assert not reasks_known("Из какого вы города?", {"business_type": "аптека"})
    assert not reasks_known("Из какого вы города?", {"city": ""})


def test_every_cue_names_a_profile_field() -> None:
    assert {cue.field for cue in CUES} <= set(PROFILE_FIELDS)

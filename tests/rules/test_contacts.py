"""Media markers of n8n's messages, and the recognition of messages that are
nothing but contact data."""

from __future__ import annotations

import pytest

from rules.contacts import BareContact, bare_contact, split_media


def test_media_markers() -> None:
    image = split_media("[image]: фото ценника на сканер")
    assert (image.text, image.media_source) == ("фото ценника на сканер", "image")
    audio = split_media("[audio transcript]: сколько стоит касса")
    assert (audio.text, audio.media_source) == ("сколько стоит касса", "audio")
    plain = split_media("  обычный текст ")
    assert (plain.text, plain.media_source) == ("обычный текст", None)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Айгерим, 87015553344", "Айгерим"),
        ("Ержан, +7 701 999 88 77", "Ержан"),
        ("Дана, 8 705 111 22 33", "Дана"),  # also a participle: a first name by the dictionary
        ("айгерим 87015553344", "Айгерим"),
        ("Айгерим Садыкова 87015553344", "Айгерим Садыкова"),
        ("Асель, почта asel@mail.kz", "Асель"),
        ("87011234567", None),
        ("мой номер 8 701 234 56 78", None),
        ("вот ИИН 900101310004", None),
        ("Номер телефона 87011234567", None),
        ("e-mail: asel@mail.kz", None),
        ("Иван Петрович Сидоров, 87011234567", "Иван Петрович Сидоров"),
        ("Ахметова Айгерим 87015553344", "Ахметова Айгерим"),  # surname first
    ],
)
def test_bare_contacts(text: str, name: str | None) -> None:
    assert bare_contact(text) == BareContact(name)


@pytest.mark.parametrize(
    "text",
    [
        "Айгерим",  # no contact data at all
        "Тараз, 87011234567",  # a city the dictionary also knows as a first name
        "Шымкент 87011234567",
        "Алматы Айгерим 87011234567",
        "Меня зовут Айгерим, мой номер +7 701 234 56 78, пусть менеджер позвонит",
        "Для договора вот мой ИИН 900101310004",
        "2 магазина, 87011234567",  # a count: a fact for the analysis
        "123456789012",  # an invalid IIN is not contact data
        "Завтра 87011234567",
        "Спасибо, 87011234567",
        "Рахмет 87011234567",  # pymorphy3 knows "Рахмет" as a first name
        # A tariff or a shop is not a person, though the dictionary has plural or
        # oblique name readings for them.
        "Мини, 87015553344",
        "Лайт 87015553344",
        "Береке Маркет 87015553344",
        "Мадина Фарм 87015553344",
        "Это номер 87015553344?",  # a question
        "Садыкова 87015553344",  # a surname alone: too often a place as well
        "Айгерим 87011234567, Ержан 87021234567",  # two people's contacts
    ],
)
def test_messages_that_say_more_are_not_bare_contacts(text: str) -> None:
    assert bare_contact(text) is None


def test_a_mistyped_iin_is_asked_to_be_checked() -> None:
    from rules.contacts import with_iin_check_request
    from rules.prompts import INVALID_IIN_ANSWER

    passed_on = with_iin_check_request("Спасибо! Передам ваш ИИН менеджеру. Какой у вас город?")
    assert passed_on == f"Спасибо! {INVALID_IIN_ANSWER} Какой у вас город?"
    asked = "Спасибо! Проверьте, пожалуйста, ИИН: в нём ошибка."
    assert with_iin_check_request(asked) == asked

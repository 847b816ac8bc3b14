"""Masking of spoken phone, card and IIN numbers in transcripts, as Whisper writes
them: digits grouped every which way, Russian number words, or both."""

from __future__ import annotations

import pytest

from core.text.contacts import find_iins, find_phones
from salescontrol.pipeline.asr.numbers import parse_group
from salescontrol.pipeline.asr.redact import find_sensitive, redact, redact_segment, redact_words
from salescontrol.pipeline.messages import TranscriptSegment, Word

PHONES = [
    ("Мой телефон 8 701 234 56 78, запишите.", "Мой телефон [номер], запишите."),
    ("Номер +7 (701) 234-56-78.", "Номер [номер]."),
    ("Звоните: 87012345678", "Звоните: [номер]"),
    ("плюс 7 701 234 56 78", "[номер]"),
    ("8-701-234-56-78", "[номер]"),
    ("8 (727) 2-345-678", "[номер]"),
    ("701 234 5678", "[номер]"),
    ("Городской 234-56-78.", "Городской [номер]."),
    ("Мой телефон 8701-234-5-6-7-8", "Мой телефон [номер]"),  # Whisper's own grouping
    ("номер 801-234-56789.", "номер [номер]."),  # a digit misheard, still masked
    ("Запишите номер 8712345678.", "Запишите номер [номер]."),
    (
        "Восемь, семьсот один, двести тридцать четыре, пятьдесят шесть, семьдесят восемь.",
        "[номер].",
    ),
    ("Мой номер восемь семь ноль один два три четыре пять шесть семь восемь", "Мой номер [номер]"),
    ("плюс семь семьсот один двести тридцать четыре пятьдесят шесть семьдесят восемь", "[номер]"),
    ("8 семьсот один 234 56 78", "[номер]"),  # half words, half digits
    ("Восемь 701 двести тридцать четыре, 56, 78.", "[номер]."),
    ("Номер 8 701 234 56 78, а второй 8 777 111 22 33", "Номер [номер], а второй [номер]"),
]

CARDS = [
    ("Карта 4400 4301 2345 6789", "Карта [карта]"),  # grouped 4-4-4-4, any checksum
    ("номер карты 4111111111111111", "номер карты [карта]"),  # Luhn-valid
    ("4111-1111-1111-1111", "[карта]"),
    ("5500 0000 0000 0004 пожалуйста", "[карта] пожалуйста"),
    ("карта 3782 822463 10005", "карта [карта]"),  # 15 digits grouped 4-6-5, Luhn-valid
]

IINS = [
    ("Мой ИИН 900101300123", "Мой ИИН [ИИН]"),
    ("ИИН 900 101 300 123.", "ИИН [ИИН]."),
    ("ИИН: 900101-300123", "ИИН: [ИИН]"),
    ("иин девятьсот, сто один, триста, сто двадцать три", "иин [ИИН]"),
]

UNTOUCHED = [
    "С вас 1200 тенге.",
    "Большой всего на 200 тенге дороже.",
    "Итого 1 200 000 тенге.",
    "С вас 12 500 ₸, пожалуйста.",
    "Две тысячи сто.",
    "С вас две тысячи триста пятьдесят тенге.",
    "Тысяча двести тенге.",
    "Полторы тысячи тенге.",
    "Сто двадцать пять тысяч триста сорок рублей",
    "В 2024 году, 15 числа.",
    "Открыты с 9 до 21.",
    "Два эспрессо, один латте и три круассана.",
    "Объёмы 350, 400, 450 мл.",
    "Сумма 1 500 000",  # a sum said without its currency
    "Столик номер 12, заказ 345.",
    "Мы работаем с восьми до двадцати двух.",
    "Двести пятьдесят, триста, триста пятьдесят грамм.",
    "Скидка 10 процентов на второй кофе.",
    "Время 12:30, заказ 4567.",
    "",
]


@pytest.mark.parametrize(("text", "expected"), PHONES + CARDS + IINS)
def test_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", UNTOUCHED)
def test_amounts_and_small_numbers_stay(text: str) -> None:
    assert redact(text) == text


def test_kinds() -> None:
    text = "Телефон 87012345678, карта 4400 4301 2345 6789, ИИН 900101300123."
    assert [f.kind for f in find_sensitive(text)] == ["phone", "card", "iin"]


def test_a_phone_next_to_an_amount() -> None:
    text = "Тысяча двести тенге, и запишите 8 701 234 56 78"
    assert redact(text) == "Тысяча двести тенге, и запишите [номер]"
    # The amount after the number keeps its own words; the number is still masked.
    assert redact("8 701 234 56 78 двести тенге") == "[номер] двести тенге"


def test_the_mask_is_stable() -> None:
    for text, _ in PHONES + CARDS + IINS:
        assert redact(redact(text)) == redact(text)


@pytest.mark.parametrize("text", [text for text, _ in PHONES + IINS] + ["ИИН 900101300123"])
def test_nothing_the_bot_would_recognise_survives(text: str) -> None:
    masked = redact(text)
    assert find_phones(masked) == []
    assert find_iins(masked) == []


@pytest.mark.parametrize(
    ("words", "digits", "used"),
    [
        (["семьсот", "один"], "701", 2),
        (["двести", "тридцать", "четыре"], "234", 3),
        (["семьдесят", "восемь", "пять"], "78", 2),
        (["ноль", "пять"], "0", 1),
        (["двенадцать", "три"], "12", 1),
        (["сто", "двенадцать"], "112", 2),
        (["Две"], "2", 1),
        (["кофе"], "", 0),
    ],
)
def test_number_word_groups(words: list[str], digits: str, used: int) -> None:
    assert parse_group(words) == (digits, used)


def _words(*parts: str) -> list[Word]:
    return [
        Word(start_s=i, end_s=i + 0.5, word=part, probability=0.9 - i / 100)
        for i, part in enumerate(parts)
    ]


def test_words_of_a_number_become_one_masked_word() -> None:
    words = _words(" Мой", " телефон", " 8", "-701", "-234", "-56", "-78.", " Спасибо.")
    out = redact_words(words)
    assert [w.word for w in out] == [" Мой", " телефон", " [номер].", " Спасибо."]
    masked = out[2]
    assert (masked.start_s, masked.end_s) == (2, 6.5)
    assert masked.probability == pytest.approx(0.9 - 6 / 100)
    assert out[3].start_s == 7


def test_spelled_number_in_words() -> None:
    words = _words(" восемь,", " семьсот", " один,", " двести", " тридцать", " четыре,")
    words += _words(" пятьдесят", " шесть,", " семьдесят", " восемь.")
    out = redact_words(words)
    assert [w.word for w in out] == [" [номер]."]


def test_words_without_numbers_are_kept() -> None:
    words = _words(" С", " вас", " 1200", " тенге.")
    assert redact_words(words) == words


def test_segment_text_and_words() -> None:
    segment = TranscriptSegment(
        start_s=1.0,
        end_s=5.0,
        text="ИИН 900101300123, спасибо.",
        words=_words(" ИИН", " 900101300123,", " спасибо."),
    )
    out = redact_segment(segment)
    assert out.text == "ИИН [ИИН], спасибо."
    assert [w.word for w in out.words] == [" ИИН", " [ИИН],", " спасибо."]
    assert (out.start_s, out.end_s) == (1.0, 5.0)


def test_long_text_is_fast() -> None:
    import time

    text = "Здравствуйте, два капучино и один латте, с вас тысяча двести тенге. " * 500
    began = time.perf_counter()
    assert redact(text) == text
    assert time.perf_counter() - began < 1.0

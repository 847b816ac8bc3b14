"""Masking of spoken phone, card and IIN numbers in transcripts, as Whisper writes
them: digits grouped every which way, Russian or Kazakh number words, or both; in
a dialogue's text and in its segments and their words alike."""

from __future__ import annotations

import re

import pytest

from core.text.contacts import find_iins, find_phones
from salescontrol.pipeline.asr.numbers import number_word, parse_group
from salescontrol.pipeline.asr.redact import (
    find_sensitive,
    redact,
    redact_segment,
    redact_segments,
)
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

KAZAKH = [
    (
        "Менің нөмірім сегіз жеті жүз бір екі жүз отыз төрт елу алты жетпіс сегіз.",
        "Менің нөмірім [номер].",
    ),
    ("Нөмірім сегіз, жеті жүз бір, он екі, үш жүз қырық бес, алпыс.", "Нөмірім [номер]."),
    ("сегіз жеті нөл бір екі үш төрт бес алты жеті сегіз", "[номер]"),
    # Whisper without the Kazakh letters.
    ("сегиз жети нол бир еки уш торт бес алты жети сегиз", "[номер]"),
    ("телефоным сегиз жети жуз токсан тогыз кырык жиырма бир", "телефоным [номер]"),
    ("ЖСН тоғыз жүз бір жүз бір үш жүз бір жүз жиырма үш", "ЖСН [ИИН]"),
    ("Сегіз 701 екі жүз отыз төрт 56 78", "[номер]"),  # words and digits mixed
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
    "Екі мың бес жүз теңге.",
    "Барлығы жиырма бес мың теңге болады.",
    "Мың екі жүз теңге.",
    "Он мың теңге, рахмет.",
    "Бес жүз теңгеге екі кофе.",
    "Екі кофе, бір шай, үш круассан.",
    "Стоил 12 500, он сказал.",  # Russian "он" ("he"), not Kazakh ten
    "Заказ 12345 торт",  # Russian "торт" ("cake"), not Kazakh four
]


@pytest.mark.parametrize(("text", "expected"), PHONES + CARDS + IINS + KAZAKH)
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
    for text, _ in PHONES + CARDS + IINS + KAZAKH:
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
        (["жеті", "жүз", "бір"], "701", 3),  # the count, then жүз
        (["жеті", "жүз", "отыз", "бір"], "731", 4),
        (["жүз", "он"], "110", 2),
        (["он", "бір"], "11", 2),
        (["тоқсан", "тоғыз"], "99", 2),
        (["токсан", "тогыз"], "99", 2),
        (["қырық", "жүз"], "40", 1),  # жүз counts only a unit
        (["бір", "екі"], "1", 1),
        (["жеті", "один"], "7", 1),  # one group is said in one language
    ],
)
def test_number_word_groups(words: list[str], digits: str, used: int) -> None:
    assert parse_group(words) == (digits, used)


@pytest.mark.parametrize(
    ("word", "before", "after", "digits"),
    [
        ("он", None, None, ""),
        ("он", "восемь", "семь", ""),
        ("он", "сегіз", None, "10"),
        ("торт", None, "бес", ""),  # both could be Russian
        ("торт", None, "алты", "4"),
        ("төрт", None, None, "4"),  # the Kazakh letter decides
        ("бес", "жүз", None, "5"),
    ],
)
def test_kazakh_words_that_are_russian_words_too(
    word: str, before: str | None, after: str | None, digits: str
) -> None:
    assert parse_group([word], before, after)[0] == digits


def _words(*parts: str, at: float = 0) -> list[Word]:
    return [
        Word(start_s=at + i, end_s=at + i + 0.5, word=part, probability=0.9 - i / 100)
        for i, part in enumerate(parts)
    ]


def _segment(*parts: str, at: float = 0) -> TranscriptSegment:
    """A segment whose words spell its text, as Whisper's do."""
    return TranscriptSegment(
        start_s=at,
        end_s=at + len(parts),
        text="".join(parts).strip(),
        words=_words(*parts, at=at),
    )


def _numbers(text: str) -> list[str]:
    """The digits and number words left in `text`."""
    return [w for w in re.findall(r"\w+", text) if w.isdigit() or number_word(w)]


def test_words_of_a_number_become_one_masked_word() -> None:
    segment = _segment(" Мой", " телефон", " 8", "-701", "-234", "-56", "-78.", " Спасибо.")
    out = redact_segment(segment).words
    assert [w.word for w in out] == [" Мой", " телефон", " [номер].", " Спасибо."]
    masked = out[2]
    assert (masked.start_s, masked.end_s) == (2, 6.5)
    assert masked.probability == pytest.approx(0.9 - 6 / 100)
    assert out[3].start_s == 7


def test_spelled_number_in_words() -> None:
    segment = _segment(
        " восемь,", " семьсот", " один,", " двести", " тридцать", " четыре,",
        " пятьдесят", " шесть,", " семьдесят", " восемь.",
    )  # fmt: skip
    out = redact_segment(segment)
    assert out.text == "[номер]."
    assert [w.word for w in out.words] == [" [номер]."]
    assert (out.words[0].start_s, out.words[0].end_s) == (0, 9.5)


def test_words_without_numbers_are_kept() -> None:
    segment = _segment(" С", " вас", " 1200", " тенге.")
    assert redact_segment(segment) == segment


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


def test_an_iin_across_two_segments() -> None:
    segments = [_segment(" Мой", " ИИН", " 900101"), _segment(" 300123,", " спасибо.", at=10)]
    text, out = redact_segments(segments)
    assert text == "Мой ИИН [ИИН] [ИИН], спасибо."
    assert [s.text for s in out] == ["Мой ИИН [ИИН]", "[ИИН], спасибо."]
    assert [w.word for w in out[0].words] == [" Мой", " ИИН", " [ИИН]"]
    assert [w.word for w in out[1].words] == [" [ИИН],", " спасибо."]
    # Each masked word keeps its own time.
    assert (out[0].words[2].start_s, out[0].words[2].end_s) == (2, 2.5)
    assert (out[1].words[0].start_s, out[1].words[0].end_s) == (10, 10.5)
    assert (out[1].start_s, out[1].end_s) == (10, 12)


def test_a_phone_in_words_across_two_segments() -> None:
    # Either half alone is below MIN_DIGITS; together they are a phone number.
    segments = [
        _segment(" Запишите:", " восемь", " семьсот", " один", " двести"),
        _segment(
            " тридцать", " четыре", " пятьдесят", " шесть", " семьдесят", " восемь.",
            " С", " вас", " тысяча", " двести", " тенге.", at=10,
        ),
    ]  # fmt: skip
    text, out = redact_segments(segments)
    assert text == "Запишите: [номер] [номер]. С вас тысяча двести тенге."
    assert [s.text for s in out] == ["Запишите: [номер]", "[номер]. С вас тысяча двести тенге."]
    first, second = ([w.word for w in s.words] for s in out)
    assert first == [" Запишите:", " [номер]"]
    assert second == [" [номер].", " С", " вас", " тысяча", " двести", " тенге."]
    # The words a mask stands for: the first one's start, the last one's end.
    assert (out[0].words[1].start_s, out[0].words[1].end_s) == (1, 4.5)
    assert (out[1].words[0].start_s, out[1].words[0].end_s) == (10, 15.5)
    # Only the amount's number words are left, in the text and in every word.
    assert _numbers(text) == ["двести"]
    for segment in out:
        assert _numbers(segment.text) == _numbers("".join(w.word for w in segment.words))


def test_a_phone_across_segments_in_kazakh() -> None:
    segments = [
        _segment(" Нөмірім", " сегіз", " жеті", " жүз", " бір"),
        _segment(" екі", " жүз", " отыз", " төрт", " елу", " алты", at=10),
        _segment(" жетпіс", " сегіз.", " Екі", " мың", " бес", " жүз", " теңге.", at=20),
    ]
    text, out = redact_segments(segments)
    assert text == "Нөмірім [номер] [номер] [номер]. Екі мың бес жүз теңге."
    assert [w.word for s in out for w in s.words] == [
        " Нөмірім", " [номер]", " [номер]", " [номер].", " Екі", " мың", " бес", " жүз", " теңге.",
    ]  # fmt: skip


def test_words_that_do_not_spell_the_text_exactly() -> None:
    # Whisper may hand a punctuation mark to a word of the neighbouring segment.
    segments = [
        TranscriptSegment(
            start_s=0,
            end_s=4,
            text="Номер восемь семьсот один двести",
            words=_words(" Номер", " восемь", " семьсот", " один", " двести,"),
        ),
        TranscriptSegment(
            start_s=10,
            end_s=13,
            text=", тридцать четыре пятьдесят шесть.",
            words=_words(" тридцать", " четыре", " пятьдесят", " шесть.", at=10),
        ),
    ]
    text, out = redact_segments(segments)
    assert text == "Номер [номер] [номер]."
    assert [w.word for w in out[0].words] == [" Номер", " [номер]"]
    assert [w.word for w in out[1].words] == [" [номер]."]


def test_a_dialogue_without_numbers_is_kept() -> None:
    segments = [_segment(" Два", " капучино."), _segment(" С", " вас", " 1200", " тенге.", at=5)]
    assert redact_segments(segments) == ("Два капучино. С вас 1200 тенге.", segments)
    assert redact_segments([]) == ("", [])


def test_long_text_is_fast() -> None:
    import time

    text = "Здравствуйте, два капучино и один латте, с вас тысяча двести тенге. " * 500
    began = time.perf_counter()
    assert redact(text) == text
    assert time.perf_counter() - began < 1.0

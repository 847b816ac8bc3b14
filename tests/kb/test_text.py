"""Text analysis: the same term whatever the case, ё, script, inflection or alias."""

from __future__ import annotations

import pytest

from kb import text
from kb.text import analyze, index_terms, lemma, surface_tokens


def content(query: str) -> list[str]:
    return [t.lemma for t in analyze(query) if not t.stop]


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        (["Кассы", "КАССУ", "кассой", "кассa"], "касса"),  # case, inflection, Latin "a"
        (["Вайпон", "випон", "WIPON", "вайпона"], "wipon"),
        (["ТИС", "tis", "Тис"], "тис"),
        (["стандарт", "Standard", "standart"], "standard"),
        (["ёмкость", "емкость"], "емкость"),
        (["данные", "данных", "данными"], "данные"),  # not a participle of "дать"
        (["стоит", "стоят", "стоили"], "стоить"),  # "сколько стоят": not "стоять"
    ],
)
def test_variants_meet_in_one_term(variants: list[str], expected: str) -> None:
    for word in variants:
        assert content(word) == [expected], word


def test_pro_is_the_tariff_after_a_product_word_or_at_the_end() -> None:
    assert content("тариф про") == ["тариф", "pro"]
    assert content("Wipon PRO") == ["wipon", "pro"]
    assert content("сколько стоит про") == ["стоить", "pro"]
    assert content("рrо") == ["pro"]  # Cyrillic р and о around a Latin r
    assert content("расскажите про тариф") == ["тариф"]


def test_compounds_and_codes_yield_their_parts() -> None:
    assert surface_tokens("онлайн-касса") == ["онлайн", "касса", "онлайн-касса"]
    assert surface_tokens("XP420B") == ["xp420b", "xp", "420", "b"]


def test_kazakh_words_stay_whole_and_meet_their_inflections() -> None:
    # Kazakh letters (қ, і, ұ…) used to split words into fragments ("аз", "нде").
    assert surface_tokens("Қазақ тілінде жұмыс істейді ма?") == [
        "қазақ",
        "тілінде",
        "жұмыс",
        "істейді",
        "ма",
    ]
    # Suffixes only: a prefix stem joins the inflections of one word.
    assert content("тілінде") == content("тілін") == ["тілін"]
    assert content("қазақша") == ["қазақ"]
    # Kazakh "і" typed as the Latin "i" is the same word.
    assert content("тiлiнде") == content("тілінде")


def test_stop_words_fillers_and_zeros_are_not_content() -> None:
    assert content("Здравствуйте, подскажите пожалуйста, а можно ли вообще?") == []
    assert content("12 000 ₸") == ["12"]


def test_absence_numerals_and_comparatives_are_content() -> None:
    # "без" and "нет" are what tells "работает без интернета" from "работает
    # через интернет"; the number of shops and "лучше" carry the question too.
    assert content("работает без интернета") == ["работать", "без", "интернет"]
    assert content("нет сканера") == ["нет", "сканер"]
    assert content("на две точки") == ["два", "точка"]
    assert content("что лучше") == ["хороший"]
    # A bare "не" stays a stop-word (it is in most lines of the KB).
    assert content("не работает") == ["работать"]


def test_a_product_plus_is_a_term_of_its_own() -> None:
    # "Standard+" is another kit than "Standard": both terms, so a question about
    # the plus prefers the sections that name it; a number's plus is no product.
    assert content("комплект Standard+") == ["комплект", "standard", "standard+"]
    assert content("Стандарт+") == ["standard", "standard+"]
    assert content("10+ точек") == ["10", "точка"]


def test_lemmas_are_cached_per_token() -> None:
    lemma.cache_clear()
    index_terms("касса касса кассы")
    info = lemma.cache_info()
    assert info.misses == 2 and info.hits == 1


def test_morph_analyzer_is_shared() -> None:
    assert text.morph() is text.morph()

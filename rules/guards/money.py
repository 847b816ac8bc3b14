"""Money amounts and percentages in text, normalized to numbers ("150 000 ₸ в
год", "1,5 млн тг", "$300", "₸99 999", "99 999 KZT", "99.999 ₸", "скидка 15%",
a bare "99 999 в месяц", and amounts and percentages in words: "девяносто
девять тысяч тенге", "полмиллиона", "двадцать процентов"), each amount with
the period written after it. The guards compare them with the figures of this
turn's KB facts.

Numbers in words are read by rules.guards.numerals (pymorphy3 lemmas). natasha's
MoneyExtractor was measured first (natasha 1.6.0, yargy 0.16.0): it knows
roubles, dollars and euros but not tenge, and no amount in words; on 20 wordings
of this domain it found 0 (number-parser 0.3.2 read most words but not
"полмиллиона" or "полтора миллиона"); natasha also brings pymorphy2 with a second
dictionary, numpy and 80 MB of models."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rules.guards.numerals import spelled_numbers

# A number (with thousands separators) followed by a currency, or "$" before it.
_NUMBER = r"\d{1,3}(?:[ \u00a0\u202f.,]\d{3})+|\d+"
_MULTIPLIER = (
    r"(?:\s*(?P<mult>тыс\.?|тысяч[аи]?|млрд\.?|миллиард(?:а|ов)?|млн\.?|миллион(?:а|ов)?|k|к)"
    r"(?![а-яa-z]))?"
)
# "1,5 млн": a decimal part counts only before a multiplier.
_FRACTION = r"(?P<frac>[.,]\d{1,2})?"
_CURRENCY = r"(?:₸|тенге|тнг|тг\.?|kzt\b|руб(?:\.|л(?:ей|я|ь))?|р\.|\$|usd|долл(?:\.|ар(?:ов|а)?)?)"
_MONEY_AFTER = re.compile(
    rf"(?P<num>{_NUMBER}){_FRACTION}{_MULTIPLIER}\s*{_CURRENCY}", re.IGNORECASE
)
_MONEY_BEFORE = re.compile(
    # Not right after another number: "5 000 ₸ 3 раза" holds no amount 3.
    rf"(?<!\d)(?<!\d[ \u00a0\u202f])(?:\$|usd|₸|kzt)\s*(?P<num>{_NUMBER}){_FRACTION}"
    rf"{_MULTIPLIER}",
    re.IGNORECASE,
)
# "99 999 в месяц": a sum with a period and no currency is a price too. Only
# sums of three digits and more: "2 в месяц" is a count.
_BARE = re.compile(
    rf"(?<![\d.,])(?P<num>\d{{1,3}}(?:[ \u00a0\u202f.,]\d{{3}})+|\d{{3,}}){_FRACTION}{_MULTIPLIER}"
    r"(?=\s*(?:/\s*|(?:в|за)\s+)?(?:мес|год|ежемесячн|ежегодн))",
    re.IGNORECASE,
)
# "скидка 90%": a percentage is a promise as much as a price is.
_PERCENT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d+)?)\s*(?:%|процент)", re.IGNORECASE)
_ANY_NUMBER = re.compile(rf"(?P<num>{_NUMBER}){_FRACTION}{_MULTIPLIER}", re.IGNORECASE)

# A multiplier's factor by how it starts, billions before millions ("млрд", "млн").
_FACTORS = (
    (("млрд", "миллиард"), 1_000_000_000),
    (("мл", "ми"), 1_000_000),
    (("т", "k", "к"), 1_000),
)
# How often an amount is paid, read right after it: "150 000 ₸ в год", "5 000 ₸/мес",
# "168 000 ₸ разово". A model that writes "в месяц" for the KB's "в год" keeps the
# KB's number and names a price twelve times off, so the value alone cannot vouch
# for it. A period written before the amount ("в месяц Mini стоит …") is not read.
_PERIOD_AFTER = re.compile(
    r"\s*(?:/\s*|(?:в|за)\s+)?(?:"
    r"(?P<month>мес(?:яц\w*|\.|\b)|ежемесячн\w*)|"
    r"(?P<year>год(?:а|у)?\b|ежегодн\w*)|"
    r"(?P<once>(?:едино|одно)?разов\w*|однократн\w*))",
    re.IGNORECASE,
)


def _to_int(match: re.Match[str]) -> int:
    digits = re.sub(r"[ \u00a0\u202f.,]", "", match.group("num"))
    value = int(digits) if digits else 0
    mult = (match.group("mult") or "").lower()
    if not mult:
        return value
    frac = match.group("frac")
    whole = value + (float("0." + frac[1:]) if frac else 0.0)
    factor = next(f for starts, f in _FACTORS if mult.startswith(starts))
    return round(whole * factor)


def digits_for_words(text: str) -> str:
    """`text` with the numbers written in words written in digits
    ("девяносто девять тысяч тенге" → "99000 тенге")."""
    out, last = [], 0
    for number in spelled_numbers(text):
        value = number.value
        written = str(int(value)) if value == int(value) else f"{value:g}".replace(".", ",")
        out += [text[last : number.start], written]
        last = number.end
    return "".join(out) + text[last:] if out else text


def money_spans(text: str) -> list[tuple[int, str | None, int, int]]:
    """Amounts of money in `text` (already in digits: `digits_for_words`), each
    with its period and its span, left to right, one per place in the text."""
    found: dict[int, tuple[int, str | None, int, int]] = {}
    for pattern in (_MONEY_AFTER, _MONEY_BEFORE, _BARE):
        for match in pattern.finditer(text):
            if any(s <= match.start("num") < e for _, _, s, e in found.values()):
                continue  # "₸99 999 ₸" or "5 000 ₸ в месяц": one amount, read once
            period = _PERIOD_AFTER.match(text, match.end())
            found[match.start()] = (
                _to_int(match),
                period.lastgroup if period else None,
                match.start(),
                match.end(),
            )
    return [found[k] for k in sorted(found)]


def priced_amounts(text: str) -> list[tuple[int, str | None]]:
    """Amounts of money named in `text` (with a currency, or with a period),
    normalized to integers, each with the period written right after it
    ("month", "year", "once") or None."""
    return [(value, period) for value, period, _, _ in money_spans(digits_for_words(text))]


def percents(text: str) -> set[float]:
    """Percentages named in `text` ("90%", "15 процентов", "двадцать процентов")."""
    text = digits_for_words(text)
    return {float(m.group(1).replace(",", ".")) for m in _PERCENT.finditer(text)}


def numbers_in(texts: Iterable[str]) -> set[int]:
    """Every number in the KB facts: a fact may put the currency in a header line."""
    found = set()
    for text in texts:
        for match in _ANY_NUMBER.finditer(text):
            found.add(_to_int(match))
    return found

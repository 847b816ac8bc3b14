"""Contradictions between sections about the same thing, for `salesbot kb lint`.

Two sections are about the same thing when the near-duplicate detector finds their
facts similar and the names of one (models, tariffs, cities) all appear in the other
(`NearDuplicates.same_subject`); sections about Aktau and Khromtau told in one
template are not. Within such a pair three kinds of disagreement are reported:

- *figure*: the same quantity told with different values: a number with a unit
  (₸, %, months, years, days, GB…) under the same parameter name ("Гарантия: 1 год"
  beside "Гарантия: 24 месяца"), or after the same word in running text ("гарантия
  12 месяцев"). Durations are compared in days, so "1 год" and "12 месяцев" agree.
- *polarity*: the same parameter answered yes in one and no in the other ("Выезд:
  нет" beside "Выезд: есть"; "не поддерживается" beside "поддерживается").
- *contents*: a kit's composition ("Состав", "Что в коробке", "Комплектация") listing
  different items.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from core.text.morph import word_set
from kb.neardup import NearDuplicates
from kb.text import analyze

# Units of measure, by the lemma of the word after a number, with a factor to a base
# unit so that equal amounts in other units agree (a year is 12 months is 365 days).
_UNITS: dict[str, tuple[str, float]] = {
    "₸": ("₸", 1), "тг": ("₸", 1), "тенге": ("₸", 1), "%": ("%", 1), "процент": ("%", 1),
    "год": ("day", 365), "лет": ("day", 365), "месяц": ("day", 30), "мес": ("day", 30),
    "неделя": ("day", 7), "день": ("day", 1), "сутки": ("day", 1), "час": ("h", 1),
    "минута": ("min", 1), "мин": ("min", 1), "секунда": ("s", 1), "сек": ("s", 1),
    "гб": ("gb", 1), "gb": ("gb", 1), "тб": ("gb", 1024), "мм": ("mm", 1), "см": ("mm", 10),
    "кг": ("kg", 1), "дюйм": ("inch", 1), "шт": ("pcs", 1), "штука": ("pcs", 1),
    "точка": ("point", 1), "касса": ("till", 1), "пользователь": ("user", 1),
    "сотрудник": ("user", 1), "склад": ("store", 1),
}  # fmt: skip
# A number: digits with thousands separated by spaces ("168 000"), an optional
# decimal part; a number inside a code or a scheme ("0-0-12", "i5", "GP-2120") is not.
_NUMBER = re.compile(
    r"(?<![\w\-–/.:])(\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[.,](\d+))?(?![\w\-–/:])"
    r"[ \u00a0]*(₸|%|[а-яa-z]+\.?)?",
    re.IGNORECASE,
)
_KEY_VALUE = re.compile(r"^\s*(?:[•\-*–—]\s*)?([^:\n]{2,60}):\s*(.+?)\s*$")
# A parameter answered yes: the first word of its value, as a lemma.
_YES = word_set("""
    да есть поддерживаться поддерживать доступный доступно доступен работать включить
    включено включен возможно можно иметься
""")
_NO_START = re.compile(r"^(?:нет|не\s|недоступ|невозможн|отсутств)", re.IGNORECASE)
# Parameter names that list what a kit holds ("Состав", "Что в коробке").
_CONTENTS_KEYS = word_set("состав коробка комплектация комплект входить")
_ITEMS = re.compile(r"\s*(?:,|;|\+|\bи\b)\s*")


@dataclass(frozen=True, slots=True)
class Figure:
    context: frozenset[str]
    """Lemmas naming the quantity: the parameter's name, or the words before it."""
    unit: str
    value: float
    text: str


@dataclass(frozen=True, slots=True)
class Finding:
    """A disagreement between two sections about the same thing."""

    kind: str
    """figure, polarity or contents"""
    first: str
    second: str
    about: str
    first_says: str
    second_says: str


def _lemmas(text: str) -> frozenset[str]:
    return frozenset(t.lemma for t in analyze(text) if not t.stop)


def _unit(word: str | None) -> tuple[str, float] | None:
    if not word:
        return None
    word = word.rstrip(".").lower()
    if word in _UNITS:
        return _UNITS[word]
    lemmas = [t.lemma for t in analyze(word)]
    return _UNITS.get(lemmas[0]) if lemmas else None


def figures(facts: str) -> list[Figure]:
    """Numbers with units in the facts, each with the words that say what it measures."""
    found: list[Figure] = []
    for line in facts.splitlines():
        pair = _KEY_VALUE.match(line)
        key_context = _lemmas(pair.group(1)) if pair else frozenset()
        body = pair.group(2) if pair else line
        for match in _NUMBER.finditer(body):
            unit = _unit(match.group(3))
            if unit is None:
                continue
            whole = int(re.sub(r"\D", "", match.group(1)))
            value = whole + (float(f"0.{match.group(2)}") if match.group(2) else 0.0)
            before = _lemmas(body[max(0, match.start() - 40) : match.start()])
            context = key_context | before
            if not context:
                continue
            found.append(Figure(context, unit[0], value * unit[1], match.group(0).strip()))
    return found


def _key_values(facts: str) -> Iterator[tuple[frozenset[str], str, str]]:
    for line in facts.splitlines():
        pair = _KEY_VALUE.match(line)
        if pair:
            key = _lemmas(pair.group(1))
            if key:
                yield key, pair.group(1).strip(), pair.group(2).strip()


def polarity(value: str) -> bool | None:
    """True for a yes, False for a no, None for anything else ("Алматы, Астана")."""
    if _NO_START.match(value):
        return False
    first = analyze(value.split(",")[0])
    if first and first[0].lemma in _YES and len(first) <= 3:
        return True
    return None


def _items(value: str) -> frozenset[frozenset[str]]:
    parts = (_lemmas(part) for part in _ITEMS.split(value.rstrip(".")))
    return frozenset(p for p in parts if p)


def _unmatched(mine: frozenset[frozenset[str]], theirs: frozenset[frozenset[str]]) -> bool:
    """Two lists of items name different things: an item of one shares no word with
    any item of the other ("денежный ящик" in one kit only). Items told in other
    words ("чековый принтер", "принтер чеков") match."""
    if len(mine) < 2 or len(theirs) < 2:
        return False
    return any(all(item.isdisjoint(other) for other in theirs) for item in mine) or any(
        all(item.isdisjoint(other) for other in mine) for item in theirs
    )


def _same(x: Figure, y: Figure) -> bool:
    if x.unit != y.unit:
        return False
    # A year is 365 days and 12 months 360: durations agree within a few per cent;
    # amounts of money and counts must be equal.
    tolerance = 0.02 * max(x.value, y.value) if x.unit == "day" else 1e-9
    return abs(x.value - y.value) <= tolerance


def _compare_figures(a: str, b: str, facts_a: str, facts_b: str) -> Iterator[Finding]:
    mine, theirs = figures(facts_a), figures(facts_b)
    for fa in mine:
        for fb in theirs:
            shared = fa.context & fb.context
            if fa.unit != fb.unit or not shared or _same(fa, fb):
                continue
            # The other section may state both values (a price and its old price).
            if any(_same(x, fb) for x in mine) or any(_same(y, fa) for y in theirs):
                continue
            yield Finding("figure", a, b, " ".join(sorted(shared)), fa.text, fb.text)
            return


def _compare_lines(a: str, b: str, facts_a: str, facts_b: str) -> Iterator[Finding]:
    theirs = list(_key_values(facts_b))
    for key_a, name_a, value_a in _key_values(facts_a):
        for key_b, _, value_b in theirs:
            if key_a != key_b:
                continue
            pa, pb = polarity(value_a), polarity(value_b)
            if pa is not None and pb is not None and pa != pb:
                yield Finding("polarity", a, b, name_a, value_a, value_b)
            elif key_a & _CONTENTS_KEYS and _unmatched(_items(value_a), _items(value_b)):
                yield Finding("contents", a, b, name_a, value_a, value_b)


SIMILARITY = 0.20
"""Pairs this similar are compared: below the near-duplicate threshold, since sections
that disagree share fewer words; read on the company KB (bench/KB_RESULTS.md)."""


def contradictions(
    detector: NearDuplicates, facts: dict[str, str], similarity: float = SIMILARITY
) -> list[Finding]:
    """Disagreements within every similar pair of sections about the same subject.
    The detector must keep pairs down to `similarity` (its `floor`)."""
    found: list[Finding] = []
    for pair in detector.pairs:
        if pair.similarity < similarity or not detector.same_subject(pair.first, pair.second):
            continue
        a, b = facts[pair.first], facts[pair.second]
        found.extend(_compare_figures(pair.first, pair.second, a, b))
        found.extend(_compare_lines(pair.first, pair.second, a, b))
    return found

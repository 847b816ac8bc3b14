"""Numbers written in words ("девяносто девять тысяч", "полмиллиона",
"полтора миллиона", "двадцати пяти"), in any case, read by lemma with
pymorphy3 so that every inflected form counts. Each number comes with its
span in the text, so a guard can name and cut it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from rules.guards.lemmas import words

UNITS = {
    "ноль": 0, "один": 1, "два": 2, "три": 3, "четыре": 4, "пять": 5, "шесть": 6,
    "семь": 7, "восемь": 8, "девять": 9, "десять": 10, "одиннадцать": 11,
    "двенадцать": 12, "тринадцать": 13, "четырнадцать": 14, "пятнадцать": 15,
    "шестнадцать": 16, "семнадцать": 17, "восемнадцать": 18, "девятнадцать": 19,
    "двадцать": 20, "тридцать": 30, "сорок": 40, "пятьдесят": 50, "шестьдесят": 60,
    "семьдесят": 70, "восемьдесят": 80, "девяносто": 90, "сто": 100, "двести": 200,
    "триста": 300, "четыреста": 400, "пятьсот": 500, "шестьсот": 600,
    "семьсот": 700, "восемьсот": 800, "девятьсот": 900, "полтора": 1.5,
}  # fmt: skip
SCALES = {"тысяча": 1_000, "миллион": 1_000_000, "миллиард": 1_000_000_000}
# "полмиллиона", "пол-миллиона", "полтысячи": half of the scale.
_HALF = re.compile(r"^пол-?(тысяч|миллион|миллиард)", re.IGNORECASE)
# pymorphy3 reads some forms of numerals as other words ("сорока" is a magpie).
_FORMS = {"сорока": "сорок", "ста": "сто", "полутора": "полтора", "полторы": "полтора"}


@dataclass(frozen=True, slots=True)
class Spelled:
    value: float
    start: int
    end: int


def _value_of(surface: str, lemma: str) -> tuple[str, float] | None:
    low = surface.lower().replace("ё", "е")
    half = _HALF.match(low)
    if half:
        return "scale", SCALES[{"тысяч": "тысяча"}.get(half.group(1), half.group(1))] / 2
    lemma = _FORMS.get(low, lemma)
    if lemma in UNITS:
        return "unit", UNITS[lemma]
    if lemma in SCALES:
        return "scale", SCALES[lemma]
    return None


def spelled_numbers(text: str) -> Iterator[Spelled]:
    """The numbers written in words in `text`, left to right."""
    total = 0.0  # completed groups ("девяносто девять тысяч" → 99 000)
    group = 0.0  # the group being read ("девяносто девять")
    start = end = -1
    started = False
    for w in words(text):
        found = _value_of(w.surface, w.lemma)
        adjacent = started and text[end : w.start].strip() in ("", "-")
        if found is None or (started and not adjacent):
            if started:
                yield Spelled(total + group, start, end)
                total, group, started = 0.0, 0.0, False
            if found is None:
                continue
        kind, value = found
        if not started:
            start, started = w.start, True
        if kind == "unit":
            group += value
        else:
            total += (group or 1) * value
            group = 0.0
        end = w.end
    if started:
        yield Spelled(total + group, start, end)

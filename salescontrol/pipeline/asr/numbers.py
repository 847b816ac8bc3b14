"""Russian number words as Whisper writes a dictated number: "восемь, семьсот один,
двести тридцать четыре" is the digit groups 8, 701, 234.

Only cardinal numbers below a thousand make a group; a multiplier word (тысяча,
миллион) makes an amount of money or goods, never a dictated number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Kind = Literal["zero", "unit", "teen", "tens", "hundreds"]

_WORDS: dict[str, tuple[Kind, int]] = {
    "ноль": ("zero", 0),
    "нуль": ("zero", 0),
    **{w: ("unit", 1) for w in ("один", "одна", "одно", "одну")},
    **{w: ("unit", 2) for w in ("два", "две")},
    "три": ("unit", 3),
    "четыре": ("unit", 4),
    "пять": ("unit", 5),
    "шесть": ("unit", 6),
    "семь": ("unit", 7),
    "восемь": ("unit", 8),
    "девять": ("unit", 9),
    "десять": ("teen", 10),
    "одиннадцать": ("teen", 11),
    "двенадцать": ("teen", 12),
    "тринадцать": ("teen", 13),
    "четырнадцать": ("teen", 14),
    "пятнадцать": ("teen", 15),
    "шестнадцать": ("teen", 16),
    "семнадцать": ("teen", 17),
    "восемнадцать": ("teen", 18),
    "девятнадцать": ("teen", 19),
    "двадцать": ("tens", 20),
    "тридцать": ("tens", 30),
    "сорок": ("tens", 40),
    "пятьдесят": ("tens", 50),
    "шестьдесят": ("tens", 60),
    "семьдесят": ("tens", 70),
    "восемьдесят": ("tens", 80),
    "девяносто": ("tens", 90),
    "сто": ("hundreds", 100),
    "двести": ("hundreds", 200),
    "триста": ("hundreds", 300),
    "четыреста": ("hundreds", 400),
    "пятьсот": ("hundreds", 500),
    "шестьсот": ("hundreds", 600),
    "семьсот": ("hundreds", 700),
    "восемьсот": ("hundreds", 800),
    "девятьсот": ("hundreds", 900),
}

_MULTIPLIER_STEMS = ("тысяч", "миллион", "миллиард", "полтор")

# What may follow each kind inside one group ("семьсот один", "двадцать пять").
_NEXT: dict[Kind, tuple[Kind, ...]] = {
    "hundreds": ("tens", "teen", "unit"),
    "tens": ("unit",),
    "teen": (),
    "unit": (),
    "zero": (),
}


def _norm(word: str) -> str:
    return word.lower().replace("ё", "е")


def number_word(word: str) -> tuple[Kind, int] | None:
    return _WORDS.get(_norm(word))


def is_multiplier(word: str) -> bool:
    """тысяча, тысячи, миллионов, полторы …: the words of an amount."""
    return _norm(word).startswith(_MULTIPLIER_STEMS)


def parse_group(words: Sequence[str]) -> tuple[str, int]:
    """The digits of the group that `words` start with, and how many words it takes
    (0 when the first word is no number)."""
    first = number_word(words[0]) if words else None
    if first is None:
        return "", 0
    kind, value = first
    used = 1
    while used < len(words):
        nxt = number_word(words[used])
        if nxt is None or nxt[0] not in _NEXT[kind]:
            break
        kind, value = nxt[0], value + nxt[1]
        used += 1
    return str(value), used

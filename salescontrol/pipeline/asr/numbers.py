"""Russian and Kazakh number words as Whisper writes a dictated number: "восемь,
семьсот один, двести тридцать четыре" and "сегіз, жеті жүз бір, екі жүз отыз
төрт" are both the digit groups 8, 701, 234.

Only cardinal numbers below a thousand make a group; a multiplier word (тысяча,
миллион, мың) makes an amount of money or goods, never a dictated number. A Kazakh
hundred is its count followed by жүз ("жеті жүз" = 700), a teen is он and a unit
("он бір" = 11). Whisper writing Kazakh often leaves out the Kazakh letters
("тогыз", "кырык", "жуз"), so words are looked up with them folded to the nearest
Russian ones.

Three Kazakh words are also everyday Russian words when so spelled: он ("he"), торт
("cake"), бес. Alone they count only next to a Kazakh number word: "Стоил 12 500,
он сказал" holds no seven-digit run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

Kind = Literal["zero", "unit", "teen", "tens", "hundreds", "hundred"]
"""`hundreds`: a Russian hundreds word (семьсот); `hundred`: Kazakh жүз, which
multiplies the unit before it."""
Language = Literal["ru", "kk"]

LONGEST_GROUP = 4
"""Words in the longest group: "жеті жүз отыз бір" (731)."""


class _Number(NamedTuple):
    kind: Kind
    value: int
    language: Language


def _table(language: Language, words: dict[str, tuple[Kind, int]]) -> dict[str, _Number]:
    return {w: _Number(kind, value, language) for w, (kind, value) in words.items()}


_RUSSIAN = _table(
    "ru",
    {
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
    },
)

# Keys with the Kazakh letters folded (see _fold).
_KAZAKH = _table(
    "kk",
    {
        "нол": ("zero", 0),
        "ноль": ("zero", 0),  # нөль
        "бир": ("unit", 1),
        "еки": ("unit", 2),
        "уш": ("unit", 3),
        "торт": ("unit", 4),
        "бес": ("unit", 5),
        "алты": ("unit", 6),
        "жети": ("unit", 7),
        "сегиз": ("unit", 8),
        "тогыз": ("unit", 9),
        "он": ("tens", 10),
        "жиырма": ("tens", 20),
        "жыйырма": ("tens", 20),
        "отыз": ("tens", 30),
        "кырык": ("tens", 40),
        "елу": ("tens", 50),
        "алпыс": ("tens", 60),
        "жетпис": ("tens", 70),
        "сексен": ("tens", 80),
        "токсан": ("tens", 90),
        "жуз": ("hundred", 100),
    },
)

_AMBIGUOUS = frozenset({"он", "торт", "бес"})
"""Kazakh number words that are Russian words too when written without Kazakh letters."""

_MULTIPLIER_STEMS = ("тысяч", "миллион", "миллиард", "полтор", "мын")

# What may follow each kind inside one group ("семьсот один", "двадцать пять",
# "жүз отыз"); a unit is followed by жүз only as the group's first word.
_NEXT: dict[Kind, tuple[Kind, ...]] = {
    "hundreds": ("tens", "teen", "unit"),
    "hundred": ("tens", "unit"),
    "tens": ("unit",),
    "teen": (),
    "unit": ("hundred",),
    "zero": (),
}

_FOLD = str.maketrans("ёәғқңөұүһіi", "еагкноуухии")


def _norm(word: str) -> str:
    return word.lower().replace("ё", "е")


def _fold(word: str) -> str:
    """The word without Kazakh letters, as Whisper often writes it: тоғыз → тогыз."""
    return word.lower().translate(_FOLD)


def number_word(word: str) -> tuple[Kind, int] | None:
    found = _lookup(word)
    return (found.kind, found.value) if found else None


def _lookup(word: str) -> _Number | None:
    return _RUSSIAN.get(_norm(word)) or _KAZAKH.get(_fold(word))


def _surely_kazakh(word: str | None) -> bool:
    """A Kazakh number word that is no Russian word (or a Kazakh multiplier)."""
    if word is None or _norm(word) in _AMBIGUOUS:
        return False
    found = _lookup(word)
    if found is None:
        return _fold(word).startswith("мын")
    return found.language == "kk"


def is_multiplier(word: str) -> bool:
    """тысяча, тысячи, миллионов, полторы, мың …: the words of an amount."""
    return _fold(word).startswith(_MULTIPLIER_STEMS)


def parse_group(
    words: Sequence[str], before: str | None = None, after: str | None = None
) -> tuple[str, int]:
    """The digits of the group that `words` start with, and how many words it takes
    (0 when the first word is no number). `before` and `after` are the words said
    just before and after the first one, if any: they decide whether он, торт or
    бес alone is a number."""
    first = _lookup(words[0]) if words else None
    if first is None:
        return "", 0
    kind, value, language = first
    used = 1
    while used < len(words):
        nxt = _lookup(words[used])
        if (
            nxt is None
            or nxt.language != language
            or nxt.kind not in _NEXT[kind]
            or (nxt.kind == "hundred" and used > 1)
        ):
            break
        kind = nxt.kind
        value = value * nxt.value if kind == "hundred" else value + nxt.value
        used += 1
    alone = used == 1 and _norm(words[0]) in _AMBIGUOUS
    if alone and not (_surely_kazakh(before) or _surely_kazakh(after)):
        return "", 0
    return str(value), used

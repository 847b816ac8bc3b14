"""Words of a draft and of its sources as lemmas (pymorphy3), for the checks
that ask whether a statement comes from somewhere: this turn's facts, the
customer's messages, the conversation so far."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.text.morph import morph

TOKEN = re.compile(r"[A-Za-z]+\d*\+?|[А-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]+|\d+")
# Parts of speech that carry what a statement is about; pronouns, prepositions,
# conjunctions, particles, numerals and interjections do not.
_CONTENT_POS = frozenset({"NOUN", "VERB", "INFN", "ADJF", "ADJS", "PRTF", "PRTS", "GRND", "ADVB"})
# Derived words share a stem ("печать" / "печатать", "учёт" / "учётный"): two
# lemmas this long that agree on this many first letters count as one word.
STEM = 5


@dataclass(frozen=True, slots=True)
class Word:
    surface: str
    lemma: str
    pos: str | None
    tag: str
    start: int
    end: int


@functools.lru_cache(maxsize=100_000)
def _parse(token: str) -> tuple[str, str | None, str]:
    lower = token.lower().replace("ё", "е")
    if not re.search(r"[а-яіәғқңөұүһ]", lower):
        return lower, "NUMB" if lower.isdigit() else "LATN", ""
    best = morph().parse(lower)[0]
    pos = best.tag.POS  # a grammeme object that refuses comparisons with other strings
    return str(best.normal_form).replace("ё", "е"), str(pos) if pos else None, str(best.tag)


def words(text: str) -> list[Word]:
    """The tokens of `text` with their most probable analysis."""
    out = []
    for m in TOKEN.finditer(text):
        lemma, pos, tag = _parse(m.group(0))
        out.append(Word(m.group(0), lemma, pos, tag, m.start(), m.end()))
    return out


def is_content(word: Word) -> bool:
    return (word.pos in _CONTENT_POS and len(word.lemma) > 2) or word.pos == "LATN"


def content_lemmas(text: str) -> set[str]:
    return {w.lemma for w in words(text) if is_content(w)}


def stem(lemma: str) -> str:
    return lemma[:STEM] if len(lemma) > STEM else lemma


@functools.lru_cache(maxsize=4096)
def _source_index(text: str) -> tuple[frozenset[str], frozenset[str]]:
    lemmas = {w.lemma for w in words(text)}
    return frozenset(lemmas), frozenset(stem(x) for x in lemmas)


@dataclass(frozen=True, slots=True)
class Sources:
    """Lemmas (and their stems) of the texts a draft may draw on."""

    lemmas: frozenset[str]
    stems: frozenset[str]

    @classmethod
    def of(cls, texts: Iterable[str]) -> Sources:
        lemmas: set[str] = set()
        stems: set[str] = set()
        for text in texts:
            each, each_stems = _source_index(text)
            lemmas |= each
            stems |= each_stems
        return cls(frozenset(lemmas), frozenset(stems))

    def has(self, lemma: str) -> bool:
        return lemma in self.lemmas or stem(lemma) in self.stems

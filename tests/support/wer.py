"""Word error rate of Russian transcripts against a scripted reference.

Both sides are normalized the same way before they are compared: lower case,
ё → е, numbers written with digits spelled out in Russian words ("1200" →
"тысяча двести", "1 200" too), punctuation and hyphens turned into word breaks.
Whisper tends to write amounts as digits while the scripts spell them, and a
digit-against-words mismatch is not a recognition error.

The alignment is jiwer's (Levenshtein over words); `wer` returns the counts as
well as the rate, so that a failing test can say what went wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import jiwer
from num2words import num2words

# Digit groups of a thousands-separated number: "1 200", "1 200 000", "1,200".
_GROUPED = re.compile(r"\b\d{1,3}(?:[ \u00a0\u202f,.]\d{3})+\b")
_DIGITS = re.compile(r"\d+")
_NOT_WORD = re.compile(r"[^\w]+|_")
# Spoken Russian says "тысяча двести", not "одна тысяча двести".
_LEADING_ONE = re.compile(r"^(?:одна (?=тысяч)|один (?=миллион|миллиард))")
_SYMBOLS = {"₸": " тенге ", "%": " процентов "}


def spell_number(number: int) -> str:
    """A non-negative integer in Russian words, as it is said aloud."""
    return _LEADING_ONE.sub("", num2words(number, lang="ru"))


def spell_numbers(text: str) -> str:
    """`text` with every run of digits (thousands separators allowed) spelled out."""
    text = _GROUPED.sub(lambda m: re.sub(r"\D", "", m.group()), text)
    return _DIGITS.sub(lambda m: f" {spell_number(int(m.group()))} ", text)


def normalize(text: str) -> str:
    """Lower-case words separated by single spaces, ready to be compared."""
    for symbol, word in _SYMBOLS.items():
        text = text.replace(symbol, word)
    text = spell_numbers(text).lower().replace("ё", "е")
    return " ".join(_NOT_WORD.sub(" ", text).split())


@dataclass(frozen=True)
class WordErrors:
    """The alignment's counts; `rate` = (S + D + I) / N."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.errors == 0 else float("inf")
        return self.errors / self.reference_words

    def __add__(self, other: WordErrors) -> WordErrors:
        return WordErrors(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.reference_words + other.reference_words,
        )


def wer(reference: str, hypothesis: str) -> WordErrors:
    """Word errors of one hypothesis against its reference, both normalized."""
    ref = normalize(reference)
    hyp = normalize(hypothesis)
    if not ref or not hyp:
        # jiwer refuses an empty reference; an empty side is all deletions or insertions.
        return WordErrors(0, len(ref.split()), len(hyp.split()), len(ref.split()))
    out = jiwer.process_words(ref, hyp)
    return WordErrors(out.substitutions, out.deletions, out.insertions, len(ref.split()))


def corpus_wer(pairs: Sequence[tuple[str, str]]) -> WordErrors:
    """Word errors summed over (reference, hypothesis) pairs: the corpus rate
    weighs every reference word alike, unlike a mean of per-pair rates."""
    total = WordErrors(0, 0, 0, 0)
    for reference, hypothesis in pairs:
        total += wer(reference, hypothesis)
    return total

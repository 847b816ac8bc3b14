"""Sentences and word overlap of an answer draft."""

from __future__ import annotations

import re

_SENTENCE = re.compile(r"[^.!?…\n]+(?:[.!?…]+|\n|$)")
# Abbreviations whose dot ends no sentence: "140 тыс. ₸", "г. Алматы", "ул. Абая".
_ABBREVIATION = re.compile(r"\b(?:тыс|млн|млрд|руб|тг|г|ул|оф|д|т\.\s?е|т\.\s?к)\.(?=\s)", re.I)
_HELD_DOT = "\u2024"
WORD = re.compile(r"\w+")


# A dot between digits is a thousands separator or a decimal point ("99.999 ₸").
_NUMBER_DOT = re.compile(r"(?<=\d)\.(?=\d)")


def sentences(text: str) -> list[str]:
    """The sentences of `text`, an abbreviation's dot ("тыс.", "г.") or a dot
    inside a number ("99.999") ending none."""
    held = _ABBREVIATION.sub(lambda m: m.group(0)[:-1] + _HELD_DOT, text)
    held = _NUMBER_DOT.sub(_HELD_DOT, held)
    return [s.strip().replace(_HELD_DOT, ".") for s in _SENTENCE.findall(held) if s.strip()]


def similarity(a: str, b: str) -> float:
    """Word overlap of two texts (Jaccard), 0..1."""
    wa, wb = set(WORD.findall(a.lower())), set(WORD.findall(b.lower()))
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)

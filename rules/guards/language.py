"""The words of a draft that count when judging its language: those it does not
quote from this turn's facts or from the customer. A company address with
Kazakh letters copied from the KB, or the customer's own Kazakh name, is not
the model switching language."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from rules.guards.text import WORD


def foreign_words(text: str, quotable: AbstractSet[str]) -> list[str]:
    """The words of `text` that are not in `quotable` (lower-case words of the
    facts and the customer's messages)."""
    return [w for w in WORD.findall(text) if w.lower() not in quotable]

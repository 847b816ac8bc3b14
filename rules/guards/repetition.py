"""Whether a text repeats what the customer was already told.

Every text that reaches the customer counts, fixed ones included: a handoff
notice or a fallback sent four times in a row reads as a broken bot as much as a
repeated model answer does. Two checks: the whole text against each recent
answer, and each question against the questions of the last answers (an
objection strategy asking the same question word for word on the next doubt).
"""

from __future__ import annotations

from collections.abc import Sequence

from rules.guards.text import sentences, similarity

QUESTION_MEMORY = 2
"""How many of the last answers a question must not repeat."""


def _questions(text: str) -> list[str]:
    return [s for s in sentences(text) if "?" in s]


def repeated_questions(text: str, previous: Sequence[str], threshold: float) -> list[str]:
    """The questions of `text` that one of the last answers already asked."""
    asked = [q for old in previous[-QUESTION_MEMORY:] for q in _questions(old)]
    return [q for q in _questions(text) if any(similarity(q, old) >= threshold for old in asked)]


def repeats(text: str, previous: Sequence[str], threshold: float) -> bool:
    """Whether `text`, or one of its questions, repeats a recent answer (word
    overlap at least `threshold`)."""
    if any(similarity(text, old) >= threshold for old in previous):
        return True
    return bool(repeated_questions(text, previous, threshold))


def fresh(candidates: Sequence[str], previous: Sequence[str], threshold: float) -> str:
    """The first of `candidates` that repeats no recent answer; when all do, the
    one used longest ago (never the last answer again if there is a choice)."""
    for text in candidates:
        if not repeats(text, previous, threshold):
            return text

    def last_use(text: str) -> int:
        uses = [i for i, old in enumerate(previous) if similarity(text, old) >= threshold]
        return max(uses, default=-1)

    return min(candidates, key=last_use)

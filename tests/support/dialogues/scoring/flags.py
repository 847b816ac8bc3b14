"""What a person should notice about a played turn, in a few words each: the
same words in the progress lines and in the Markdown report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MARK_FLAGGED = "⚠"
"""The guard caught something (and fixed it)."""
MARK_BROKEN = "✗"
"""Something reached the customer, or the turn failed."""


def turn_flags(turn: Mapping[str, Any]) -> list[str]:
    """The flags of a turn in its JSON form (`TurnScore.as_json()`)."""
    out: list[str] = []
    if turn["status"] != 200:
        out.append(f"{MARK_BROKEN} failed: {turn['error']}")
    if turn["violations_before"]:
        out.append(f"{MARK_FLAGGED} guard: " + ", ".join(turn["violations_before"]))
    if turn["regenerations"]:
        out.append(f"regenerated ×{turn['regenerations']}")
    if turn["edited"]:
        out.append("edited in place")
    if turn["fallback"]:
        out.append(f"{MARK_FLAGGED} fallback (repaired)")
    if turn["fixed_answer"]:
        out.append(f"{MARK_FLAGGED} fixed text")
    if turn["violations_after"]:
        out.append(f"{MARK_BROKEN} still breaks: " + ", ".join(turn["violations_after"]))
    return out

"""Routers of the sales graph: pure functions of the state."""

from __future__ import annotations

from typing import Literal

from core.taxonomy import Intent
from graph.state import SalesState, work_of

OBJECTION_INTENTS: frozenset[Intent] = frozenset({"objection", "refusal"})


def route_after_intent(state: SalesState) -> Literal["handoff", "retrieve"]:
    """The handoff notice when a human is asked for; anything else, even after a
    handoff, is answered (from the KB, or saying who will answer)."""
    return "handoff" if work_of(state).get("handoff_notice") else "retrieve"


def route_after_retrieve(state: SalesState) -> Literal["objection", "generate"]:
    if work_of(state).get("intent") in OBJECTION_INTENTS:
        return "objection"
    return "generate"


def route_after_guard(state: SalesState) -> Literal["generate", "__end__"]:
    return "generate" if work_of(state).get("guard_feedback") else "__end__"

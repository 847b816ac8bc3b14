"""Routers of the sales graph: pure functions of the state."""

from __future__ import annotations

from typing import Literal

from graph.state import SalesState

OBJECTION_INTENTS = frozenset({"objection", "refusal"})


def route_after_intent(state: SalesState) -> Literal["handoff", "retrieve"]:
    return "handoff" if state.get("handoff") else "retrieve"


def route_after_retrieve(state: SalesState) -> Literal["objection", "generate"]:
    if state.get("intent") in OBJECTION_INTENTS:
        return "objection"
    return "generate"


def route_after_guard(state: SalesState) -> Literal["generate", "__end__"]:
    return "generate" if state.get("guard_feedback") else "__end__"

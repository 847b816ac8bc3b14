"""Handoff node: a human manager takes over.

Reached on a request for a human, a complaint, or repeated frustration. The
answer is a fixed text from settings: at that point a model's creativity helps
no one, and it saves an LLM call.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import TurnContext, services_of
from graph.state import SalesState, deliver


async def hand_off(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    settings = services_of(runtime).settings
    return deliver(
        state,
        settings.guards.handoff_answer.strip(),
        phase="handoff",
        outcome="handoff",
        handoff=True,
    )

"""Handoff node: a human manager takes over.

Reached on a request for a human, a complaint, or repeated frustration. The
answer is a fixed text from settings: at that point a model's creativity helps
no one, and it saves an LLM call. Asked again, the customer gets another fixed
text (handoff.followup_answers) rather than the same notice; questions after a
handoff go through the KB instead (graph.routing).
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import TurnContext, services_of
from graph.state import SalesState, deliver
from rules.guards.repetition import fresh


async def hand_off(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    settings = services_of(runtime).settings
    notices = [settings.guards.handoff_answer, *settings.business.handoff.followup_answers]
    text = fresh(
        [notice.strip() for notice in notices],
        state.get("answers", []),
        settings.guards.repeat_similarity,
    )
    return deliver(state, text, phase="handoff", outcome="handoff", handoff=True)

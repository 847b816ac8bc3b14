"""Objection node: answer a doubt with the configured strategy, or stop pushing.

Each objection type has a strategy in settings.yaml (acknowledge, a KB fact, a
question back). Repeated objections — of one type or in total — or an explicit
refusal end the sale softly: the customer is not pressed further.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import TurnContext, services_of
from graph.guardrails import Guard
from graph.prompts import OBJECTION_BLOCK, OBJECTION_BLOCK_NO_QUESTION
from graph.state import SalesState


async def handle_objection(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    settings = services_of(runtime).settings
    if state.get("intent") == "refusal":
        # A refusal always ends the sale softly, with or without the strategies.
        return {"phase": "soft_close", "outcome": "soft_close", "objection_guidance": None}

    if not settings.flags.objection_handling:
        return {}
    kind = state.get("objection_type") or "think"
    counts = state.get("objection_counts", {})
    per_type = counts.get(kind, 0) + 1
    total = sum(counts.values()) + 1
    limits = settings.objections
    if per_type > limits.max_per_type or total > limits.max_total:
        return {
            "objection_counts": {kind: 1},
            "phase": "soft_close",
            "outcome": "soft_close",
            "objection_guidance": None,
        }
    strategy = limits.strategies[kind]  # type: ignore[index]
    # A scripted question about a known field ("Чем пользуетесь сейчас?" after the
    # customer named their tool) would only make the guard send the answer back.
    known = Guard(settings.guards).reasks(strategy.question, state.get("profile", {}))
    template = OBJECTION_BLOCK_NO_QUESTION if known else OBJECTION_BLOCK
    guidance = template.format(
        objection=kind, acknowledge=strategy.acknowledge, question=strategy.question
    )
    return {
        "objection_counts": {kind: 1},
        "phase": "objection_handling",
        "objection_guidance": guidance,
    }

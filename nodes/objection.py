"""Objection node: answer a doubt with the configured strategy, or stop pushing.

Each objection type has a strategy in settings.yaml (acknowledge, a KB fact, a
question back). Repeated objections — of one type or in total — or an explicit
refusal end the sale softly: the customer is not pressed further.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import TurnContext, services_of
from graph.state import SalesState, work_of
from rules.prompts import OBJECTION_BLOCK, OBJECTION_BLOCK_AGAIN, OBJECTION_BLOCK_NO_QUESTION

_SOFT_CLOSE: dict[str, Any] = {"phase": "soft_close", "outcome": "soft_close"}


async def handle_objection(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    services = services_of(runtime)
    settings = services.settings
    work = work_of(state)
    if work.get("intent") == "refusal":
        # A refusal always ends the sale softly, with or without the strategies.
        return _SOFT_CLOSE
    if not settings.flags.objection_handling:
        return {}
    kind = work.get("objection_type") or "think"
    counts = state.get("objection_counts", {})
    limits = settings.objections
    if counts.get(kind, 0) + 1 > limits.max_per_type or sum(counts.values()) + 1 > limits.max_total:
        return {**_SOFT_CLOSE, "objection_counts": {kind: 1}}
    strategy = limits.strategies[kind]
    # A scripted question about a known field ("Чем пользуетесь сейчас?" after the
    # customer named their tool) would only make the guard send the answer back.
    known = services.guard.reasks(strategy.question, state.get("profile", {}))
    if counts.get(kind, 0):
        # The same doubt again: the scripted words were said last time, and the
        # same acknowledgement and question word for word read as a script.
        template = OBJECTION_BLOCK_AGAIN
    else:
        template = OBJECTION_BLOCK_NO_QUESTION if known else OBJECTION_BLOCK
    guidance = template.format(
        objection=kind, acknowledge=strategy.acknowledge, question=strategy.question
    )
    return {
        "objection_counts": {kind: 1},
        "phase": "objection_handling",
        "work": {"objection_guidance": guidance},
    }

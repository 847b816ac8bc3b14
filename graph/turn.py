"""One turn of the conversation: the entry point shared by the API and the console.

The customer's message goes in as a `HumanMessage` on the customer's thread; when
this returns, the checkpoint holding the answer is on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import HumanMessage

from graph import metrics
from graph.builder import SalesGraph
from graph.context import Services, TurnContext
from graph.state import InputState
from graph.threads import thread_config


@dataclass(frozen=True)
class TurnResult:
    answer: str
    phase: str
    intent: str
    outcome: str | None
    handoff: bool
    kb_used: bool
    turn: int
    llm_calls: int
    kb_topics: list[str] = field(default_factory=list)
    guard_violations: list[str] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)


async def run_turn(
    graph: SalesGraph,
    services: Services,
    session_id: str,
    user_id: str,
    text: str,
    message_ts: int | None = None,
) -> TurnResult:
    payload: InputState = {"messages": [HumanMessage(content=text)]}
    if message_ts is not None:
        payload["message_ts"] = message_ts
    state = await graph.ainvoke(
        payload,
        thread_config(session_id, user_id),
        context=TurnContext(session_id=session_id, user_id=user_id, services=services),
        # One checkpoint per turn, written when the run ends (also when it fails,
        # so the customer's message is kept) and awaited before it returns: an
        # answer never leaves before its checkpoint is on disk. Per-node
        # checkpoints would cost ~10 ms a turn and multiply the DB's growth;
        # Studio's server keeps its own per-node history for debugging.
        durability="exit",
    )
    result = TurnResult(
        answer=state.get("answer", ""),
        phase=state.get("phase", ""),
        intent=state.get("intent", ""),
        outcome=state.get("outcome"),
        handoff=bool(state.get("handoff")),
        kb_used=bool(state.get("kb_relevant")),
        turn=state.get("turn", 0),
        llm_calls=state.get("llm_calls", 0),
        kb_topics=list(state.get("kb_topics", [])),
        guard_violations=list(state.get("guard_violations", [])),
        profile=dict(state.get("profile", {})),
    )
    metrics.TURNS.labels(phase=result.phase, intent=result.intent).inc()
    return result

"""One turn of the conversation: the entry point shared by the API and the console.

The customer's message goes in as a `HumanMessage` on the customer's thread; when
this returns, the checkpoint holding the answer is on disk. When the turn fails
(LLM down, time budget), the thread keeps the state from before the turn plus
the message, so the next attempt answers it as if the failed one never ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START
from langgraph.types import StateSnapshot

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
    message_id: str | None = None,
) -> TurnResult:
    """Answer `text` on the customer's thread.

    `message_id` names the message (the API derives it from request_id): a retry
    of a failed turn then replaces its own unanswered message instead of adding
    it a second time.
    """
    config = thread_config(session_id, user_id)
    before = await graph.aget_state(config)
    if message_id and message_id in _answered_ids(before.values.get("messages", [])):
        message_id = None  # an answered request sent again is a new message
    payload: InputState = {"messages": [HumanMessage(content=text, id=message_id)]}
    if message_ts is not None:
        payload["message_ts"] = message_ts
    try:
        state = await graph.ainvoke(
            payload,
            config,
            context=TurnContext(session_id=session_id, user_id=user_id, services=services),
            # One checkpoint per turn, written when the run ends and awaited
            # before it returns: an answer never leaves before its checkpoint is
            # on disk. Per-node checkpoints would cost ~10 ms a turn and multiply
            # the DB's growth; Studio's server keeps its own per-node history.
            durability="exit",
        )
    except BaseException:
        await _keep_only_the_message(graph, before, payload, config)
        raise
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


def _answered_ids(messages: list[AnyMessage]) -> set[str | None]:
    """Ids of the messages up to the bot's last answer."""
    answered = max((i for i, m in enumerate(messages) if isinstance(m, AIMessage)), default=-1)
    return {m.id for m in messages[: answered + 1]}


async def _keep_only_the_message(
    graph: SalesGraph, before: StateSnapshot, payload: InputState, config: RunnableConfig
) -> None:
    """Replace what a failed turn left (the exit checkpoint holds the writes of
    the nodes that ran: the turn counter, the frustration streak, objection
    counts) with the state before the turn plus the customer's message. Counted
    twice, a retry would hand a customer off after one frustrated message."""
    try:
        if before.created_at is None:
            # The thread's first turn: there is no earlier state to fork from.
            thread_id = before.config["configurable"]["thread_id"]
            if isinstance(graph.checkpointer, BaseCheckpointSaver):
                await graph.checkpointer.adelete_thread(thread_id)
        # Forked from the checkpoint before the turn, with the thread's metadata.
        base: RunnableConfig = {**before.config, "metadata": config.get("metadata", {})}
        await graph.aupdate_state(base, dict(payload), as_node=START)
    except Exception:
        # The failed run's own checkpoint, which also holds the message, stays;
        # the caller reports the turn's error, not this one.
        pass

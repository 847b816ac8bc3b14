"""One turn of the conversation: the entry point shared by the API and the console.

The customer's message goes in as a `HumanMessage` on the customer's thread; when
this returns, the checkpoint holding the answer is on disk. When the turn fails
(LLM down, time budget), the thread keeps the state from before the turn plus
the message, so the next attempt answers it as if the failed one never ran.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START

from core.taxonomy import GuardCode, Intent, Outcome, Phase
from graph import metrics
from graph.builder import SalesGraph
from graph.context import Services, TurnContext
from graph.state import InputState, Reply, SalesState, TurnWork, make_reply, message_text
from graph.threads import thread_config

# Checkpoint metadata key naming the run that wrote a checkpoint.
_ATTEMPT = "turn_attempt"


@dataclass(frozen=True)
class TurnResult:
    """What a turn produced, for the API's answer, its log and the store."""

    reply: Reply
    """The answer and where it left the conversation (what a retry gets too)."""
    llm_calls: int = 0
    kb_topics: list[str] = field(default_factory=list)
    guard_violations: list[GuardCode] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)
    answered: dict[str, str] = field(default_factory=dict)
    """The customer messages this turn answered, id → text (usually one; more when
    earlier turns failed and left theirs waiting)."""

    @property
    def answer(self) -> str:
        return self.reply["answer"]

    @property
    def phase(self) -> Phase:
        return self.reply["phase"]

    @property
    def intent(self) -> Intent:
        return self.reply["intent"]

    @property
    def outcome(self) -> Outcome | None:
        return self.reply["outcome"]

    @property
    def handoff(self) -> bool:
        return self.reply["handoff"]

    @property
    def kb_used(self) -> bool:
        return self.reply["kb_used"]

    @property
    def turn(self) -> int:
        return self.reply["turn"]


def result_of(state: SalesState) -> TurnResult:
    """The last turn of a thread as its state holds it."""
    work: TurnWork = state.get("work") or TurnWork()
    turn = state.get("turn", 0)
    replies = state.get("replies", {})
    answered = {
        str(m.id): message_text(m)
        for m in state.get("messages", [])
        if isinstance(m, HumanMessage) and m.id in replies and replies[m.id]["turn"] == turn
    }
    reply = replies[next(iter(answered))] if answered else None
    return TurnResult(
        # A thread written before replies were kept has none: its state says the same.
        reply=reply or make_reply(state, work, work.get("answer", "")),
        llm_calls=work.get("llm_calls", 0),
        kb_topics=list(work.get("kb_topics", [])),
        guard_violations=list(work.get("guard_violations", [])),
        profile=dict(state.get("profile", {})),
        answered=answered,
    )


async def read_thread(graph: SalesGraph, session_id: str, user_id: str) -> SalesState:
    """The customer's thread as it was last checkpointed (empty for a new one)."""
    snapshot = await graph.aget_state(thread_config(session_id, user_id))
    return cast(SalesState, snapshot.values or {})


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
    # Marks the checkpoint this run writes, so that a failure can tell it from an
    # earlier turn's (a run cancelled before it wrote one leaves none).
    attempt = uuid.uuid4().hex
    run_config: RunnableConfig = {**config, "metadata": {**config["metadata"], _ATTEMPT: attempt}}
    payload: InputState = {"messages": [HumanMessage(content=text, id=message_id)]}
    if message_ts is not None:
        payload["message_ts"] = message_ts
    try:
        state = await graph.ainvoke(
            payload,
            run_config,
            context=TurnContext(session_id=session_id, user_id=user_id, services=services),
            # One checkpoint per turn, written when the run ends and awaited
            # before it returns: an answer never leaves before its checkpoint is
            # on disk. Per-node checkpoints would add a write per node to every
            # turn and multiply the DB's growth; Studio's server keeps its own per-node history.
            durability="exit",
        )
    except BaseException:
        # The API's deadline may fall while the rollback awaits the database; cut
        # off there, it would leave the failed run's counts (or, on a first turn,
        # a deleted thread without the message).
        await _to_the_end(_keep_only_the_message(graph, config, attempt, payload))
        raise
    result = result_of(cast(SalesState, state))
    metrics.TURNS.labels(phase=result.phase, intent=result.intent).inc()
    return result


async def _to_the_end(work: Awaitable[None]) -> None:
    """Await `work` to its end even when this task is cancelled meanwhile; the
    cancellation is raised once it is done (the caller still holds the
    customer's lock until then, so the next turn never sees half a rollback)."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


async def _keep_only_the_message(
    graph: SalesGraph, config: RunnableConfig, attempt: str, payload: InputState
) -> None:
    """Replace what a failed turn left (its exit checkpoint holds the writes of
    the nodes that ran: the turn counter, the frustration streak, objection
    counts) with the state before the turn plus the customer's message. Counted
    twice, a retry would hand a customer off after one frustrated message."""
    try:
        left = await graph.aget_state(config)
        if (left.metadata or {}).get(_ATTEMPT) == attempt:
            before = left.parent_config  # None: it was the thread's first turn
        else:
            before = left.config if left.created_at is not None else None
        if before is None:
            # No earlier state to fork from: start the thread again.
            if isinstance(graph.checkpointer, BaseCheckpointSaver):
                await graph.checkpointer.adelete_thread(config["configurable"]["thread_id"])
            before = config
        # Forked from the checkpoint before the turn, with the thread's metadata.
        base: RunnableConfig = {**before, "metadata": config.get("metadata", {})}
        await graph.aupdate_state(base, dict(payload), as_node=START)
    except Exception:
        # The failed run's own checkpoint, which also holds the message, stays;
        # the caller reports the turn's error, not this one.
        pass

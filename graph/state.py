"""The typed state of one customer's conversation: what the conversation
remembers from turn to turn (`Memory`), and what one turn computes and then
throws away (`TurnWork`, under the `work` key, started afresh by the intent
node). One checkpointed state per (session_id, user_id) thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph.message import Messages, add_messages

from core.settings import FlowSettings
from core.taxonomy import GuardCode, Intent, ObjectionType, Outcome, Phase
from rules.contacts import MediaSource
from rules.profile import merge_profile

# How many past answers and KB topics a thread remembers: enough for repetition
# checks and "recently used" signals, small enough to keep checkpoints light.
ANSWER_MEMORY = 10
TOPIC_MEMORY = 12
REPLY_MEMORY = 64
"""Customer messages whose reply a thread remembers (a retry's answer)."""


def merge_counts(left: dict[str, int] | None, right: dict[str, int] | None) -> dict[str, int]:
    """Add per-type counters (objections raised so far, by type)."""
    merged = dict(left or {})
    for key, value in (right or {}).items():
        merged[key] = merged.get(key, 0) + value
    return merged


def _append_capped(limit: int) -> Callable[[list[str] | None, list[str] | None], list[str]]:
    def reducer(left: list[str] | None, right: list[str] | None) -> list[str]:
        return [*(left or []), *(right or [])][-limit:]

    reducer.__name__ = f"append_last_{limit}"
    return reducer


append_answers = _append_capped(ANSWER_MEMORY)
append_topics = _append_capped(TOPIC_MEMORY)


def message_text(message: AnyMessage) -> str:
    """A message's text, whether its content is a string or a list of parts."""
    content = message.content
    if isinstance(content, str):
        return content
    return " ".join(
        part.get("text", "") if isinstance(part, dict) else str(part) for part in content
    )


def split_pending(messages: Sequence[Any]) -> tuple[list[AnyMessage], list[AnyMessage]]:
    """The dialogue up to the bot's last answer, and the customer's messages after
    it (usually one; more when an earlier turn failed after storing its message)."""
    dialogue: list[AnyMessage] = [m for m in messages if isinstance(m, HumanMessage | AIMessage)]
    cut = len(dialogue)
    while cut and isinstance(dialogue[cut - 1], HumanMessage):
        cut -= 1
    return dialogue[:cut], dialogue[cut:]


def add_dialogue_messages(left: Messages, right: Messages) -> Messages:
    """`add_messages`, except that a customer message whose id is one the bot has
    already answered comes in as a new message rather than replacing the old one.

    The API names a message after its request_id, so an n8n retry of a failed
    turn replaces the message that turn left instead of adding it twice; but an
    old request sent again after its stored answer expired is a new message, and
    replacing the answered one in the middle of the dialogue would leave the turn
    nothing new to answer.
    """
    answered = {m.id for m in split_pending(left if isinstance(left, list) else [left])[0]}
    if not answered:
        return add_messages(left, right)
    renewed: Messages = [
        m.model_copy(update={"id": None}) if isinstance(m, HumanMessage) and m.id in answered else m
        for m in (right if isinstance(right, list) else [right])
    ]
    return add_messages(left, renewed)


class Fact(TypedDict):
    """One KB section retrieved for this turn."""

    topic: str
    category: str
    facts: str
    score: float


class Reply(TypedDict):
    """The reply a customer message got: the turn's answer and where it left the
    conversation. Kept in the checkpoint with the answer itself, so that a retry
    of the message finds it even when nothing else was written."""

    answer: str
    phase: Phase
    intent: Intent
    outcome: Outcome | None
    handoff: bool
    kb_used: bool
    turn: int
    at: float
    """When the answer was made (seconds since the epoch)."""


def keep_replies(left: dict[str, Reply] | None, right: dict[str, Reply] | None) -> dict[str, Reply]:
    """The replies by message id, the newest REPLY_MEMORY kept."""
    merged = {**(left or {}), **(right or {})}
    return dict(list(merged.items())[-REPLY_MEMORY:])


class TurnWork(TypedDict, total=False):
    """What one turn computes and throws away; the intent node starts it afresh."""

    returning: bool
    """The customer comes back after a long pause (flow.reengage_after_hours)."""
    intent: Intent
    objection_type: ObjectionType | None
    search_query: str
    """The standalone KB query (follow-ups resolved from history)."""
    media_source: MediaSource | None
    """The message is a description of an image or a transcript of a voice note."""
    masked_message: str
    """The customer's message as the prompts show it: contact data masked
    (parsed once per turn, off the event loop: nodes.intent)."""
    masked_history: dict[str, str]
    """The masked text of the earlier customer messages in the prompts' history
    that hold contact data, by message id (nodes.dialogue.mask_history)."""
    invalid_iin: bool
    """The message holds a twelve-digit number that fails the IIN checks."""
    handoff_notice: bool
    """The turn answers with the handoff notice: a human was just asked for (or
    asked for again); other messages after a handoff are answered from the KB."""
    kb_facts: list[Fact]
    """The answer's only source of facts."""
    kb_topics: list[str]
    kb_relevant: bool
    """Whether the KB had relevant facts."""
    objection_guidance: str | None
    """The objection strategy chosen, for the answer prompt."""
    draft: str
    """The answer candidate being checked by the guard."""
    guard_feedback: list[GuardCode]
    """Violations of the previous draft, named in the regeneration prompt."""
    guard_attempts: int
    guard_violations: list[GuardCode]
    """Every violation found this turn (kept even when fixed)."""
    answer: str
    llm_calls: int
    """LLM calls made (budget: 2, 3 with a guard retry)."""


def merge_work(left: TurnWork | None, right: TurnWork | None) -> TurnWork:
    """A node's partial update of the turn's work; the intent node replaces it
    whole (`Overwrite`) when a turn starts."""
    return {**(left or {}), **(right or {})}


class InputState(TypedDict, total=False):
    """What a caller sends: the customer's new message (Studio and the API)."""

    messages: Annotated[list[AnyMessage], add_dialogue_messages]
    message_ts: int
    """When the customer wrote (ms since the epoch), if the channel says."""


class Memory(TypedDict, total=False):
    """What the bot remembers about one conversation."""

    messages: Annotated[list[AnyMessage], add_dialogue_messages]
    """The dialogue: customer messages and the bot's final answers."""
    turn: int
    """Customer turns processed, the current one included."""
    last_message_ts: int
    """When the customer wrote the previous answered message."""
    phase: Phase
    outcome: Outcome | None
    """The terminal outcome reached."""
    target_outcome: Outcome | None
    """The outcome the customer asked for while fields it needs are missing."""
    handoff: bool
    """A human manager takes over."""
    profile: Annotated[dict[str, Any], merge_profile]
    """What the customer told us (core.taxonomy.PROFILE), merged across turns."""
    objection_counts: Annotated[dict[str, int], merge_counts]
    frustration_streak: int
    """Consecutive turns with a complaint or visible frustration."""
    answers: Annotated[list[str], append_answers]
    """Recent final answers, for repetition checks."""
    recent_topics: Annotated[list[str], append_topics]
    """KB topics used in recent turns."""
    replies: Annotated[dict[str, Reply], keep_replies]
    """The reply each recent customer message got, by the message's id."""


class SalesState(Memory, total=False):
    """A thread's whole state: its memory, the current turn's input and work."""

    message_ts: int
    """When the customer wrote the current message (ms since the epoch), if known."""
    work: Annotated[TurnWork, merge_work]


def phase_of(state: SalesState, flow: FlowSettings) -> Phase:
    """The conversation's phase (the flow's start before the first turn)."""
    return state.get("phase") or flow.start_phase


def work_of(state: SalesState) -> TurnWork:
    return state.get("work") or {}


def make_reply(state: Mapping[str, Any], work: TurnWork, answer: str) -> Reply:
    """The reply of a turn whose state (after it) and work are these."""
    return {
        "answer": answer,
        "phase": state.get("phase") or "discovery",
        "intent": work.get("intent", "unclear"),
        "outcome": state.get("outcome"),
        "handoff": bool(state.get("handoff")),
        "kb_used": bool(work.get("kb_relevant")),
        "turn": state.get("turn", 0),
        "at": time.time(),
    }


def deliver(
    state: SalesState, text: str, work: TurnWork | None = None, **memory: Any
) -> dict[str, Any]:
    """The state update that delivers the turn's answer `text` (with `work`, more
    of the turn's work, and `memory`, what else the node changes): the answer joins
    the dialogue, the answer memory and the reply of every customer message it
    answers in the same step, so the checkpoint holds all of them or none."""
    reply = make_reply({**state, **memory}, {**work_of(state), **(work or {})}, text)
    _, pending = split_pending(state.get("messages", []))
    return {
        **memory,
        "work": {**(work or {}), "answer": text, "draft": text},
        "messages": [AIMessage(content=text)],
        "answers": [text],
        "replies": {m.id: reply for m in pending if m.id},
    }

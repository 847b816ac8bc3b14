"""The typed state of one customer's conversation, with the reducers that merge
node updates into it. One checkpointed state per (session_id, user_id) thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph.message import Messages, add_messages

# How many past answers and KB topics a thread remembers: enough for repetition
# checks and "recently used" signals, small enough to keep checkpoints light.
ANSWER_MEMORY = 10
TOPIC_MEMORY = 12

PROFILE_FIELDS: tuple[str, ...] = (
    "contact_name",
    "phone",
    "iin",
    "email",
    "business_type",
    "city",
    "stores_count",
    "current_tools",
    "automation_before",
    "company_name",
    "pains",
    "interest",
)


PROFILE_LIST_LIMIT = 8


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict | tuple) and len(value) == 0)


def merge_profile(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Merge newly learned customer facts into the known profile.

    A known value is never erased by an empty one (the analysis often returns
    null for fields the message does not mention); a restated value replaces
    the old one (the customer corrected it). List fields (pains, interests)
    accumulate, because a customer names them one at a time; a single value
    stored before a field became a list is kept as its first item.
    """
    merged = dict(left or {})
    for key, value in (right or {}).items():
        if _is_empty(value):
            continue
        old = merged.get(key)
        if isinstance(value, list):
            known = old if isinstance(old, list) else ([] if _is_empty(old) else [old])
            merged[key] = _accumulate(known, value)
        else:
            merged[key] = value
    return merged


def _accumulate(known: list[Any], new: list[Any]) -> list[Any]:
    """`known` plus the new items it lacks (ignoring case and blanks), the last
    PROFILE_LIST_LIMIT kept: a model restates an interest most turns ("тариф
    Standard", "Standard"), and the whole list goes into every prompt."""
    seen = {str(v).strip().casefold() for v in known}
    out = list(known)
    for item in new:
        norm = str(item).strip().casefold()
        if norm and norm not in seen:
            seen.add(norm)
            out.append(item.strip() if isinstance(item, str) else item)
    return out[-PROFILE_LIST_LIMIT:]


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


class InputState(TypedDict, total=False):
    """What a caller sends: the customer's new message (Studio and the API)."""

    messages: Annotated[list[AnyMessage], add_dialogue_messages]
    message_ts: int
    """When the customer wrote (ms since the epoch), if the channel says."""


class SalesState(TypedDict, total=False):
    """Everything the bot remembers about one conversation."""

    messages: Annotated[list[AnyMessage], add_dialogue_messages]
    """The dialogue: customer messages and the bot's final answers."""

    turn: int
    """Number of customer turns processed, the current one included."""

    message_ts: int
    """When the customer wrote the current message (ms since the epoch), if known."""

    last_message_ts: int
    """When the customer wrote the previous answered message."""

    returning: bool
    """The customer comes back after a long pause (flow.reengage_after_hours)."""

    phase: str
    """Current phase of the sales flow (settings.flow.phases), or a terminal outcome."""

    profile: Annotated[dict[str, Any], merge_profile]
    """What the customer told us: PROFILE_FIELDS, merged across turns."""

    intent: str
    """The last message's intent (nodes.intent.Intent)."""

    objection_type: str | None
    """The last message's objection type, when it raised one."""

    objection_counts: Annotated[dict[str, int], merge_counts]
    """Objections raised so far, by type."""

    frustration_streak: int
    """Consecutive turns with a complaint or visible frustration."""

    search_query: str
    """The standalone KB query of this turn (follow-ups resolved from history)."""

    media_source: str | None
    """'image' or 'audio' when the message is a description/transcript of media."""

    kb_facts: list[dict[str, Any]]
    """This turn's KB hits (topic, category, facts, score): the answer's only source of facts."""

    kb_topics: list[str]
    """Topics of this turn's KB hits."""

    recent_topics: Annotated[list[str], append_topics]
    """Topics used in recent turns."""

    kb_relevant: bool
    """Whether the KB had relevant facts for this turn."""

    objection_guidance: str | None
    """The objection strategy chosen for this turn, for the answer prompt."""

    draft: str
    """The answer candidate being checked by the guard."""

    guard_feedback: list[str]
    """Violations of the previous draft, named in the regeneration prompt."""

    guard_attempts: int
    """How many drafts the guard has checked this turn."""

    guard_violations: list[str]
    """Violation codes found this turn (kept even when fixed)."""

    answer: str
    """The final answer of this turn."""

    answers: Annotated[list[str], append_answers]
    """Recent final answers, for repetition checks."""

    handoff: bool
    """A human manager must take over."""

    target_outcome: str | None
    """The outcome the customer asked for (payment, video call) while fields are missing."""

    outcome: str | None
    """Terminal outcome reached: payment_ready, video_call_scheduled, soft_close, handoff."""

    llm_calls: int
    """LLM calls made this turn (budget: 2, 3 with a guard retry)."""


def answer_update(text: str) -> dict[str, Any]:
    """The state update that delivers a final answer: it joins the dialogue and
    the answer memory in the same step, so the checkpoint holds both or neither."""
    return {"answer": text, "draft": text, "messages": [AIMessage(content=text)], "answers": [text]}

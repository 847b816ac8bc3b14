"""The dialogue as the prompts show it: the customer's unanswered message(s),
the recent history before them, rendered with who said what. Phones, IINs and
e-mails are masked: code extracts them (core.text.contacts), and a model that
never sees the digits cannot repeat or garble them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from langchain_core.messages import AnyMessage, HumanMessage

from core.text.contacts import mask_contacts
from graph.state import message_text, split_pending
from rules.prompts import SPEAKER_BOT, SPEAKER_CUSTOMER


def pending_customer_text(messages: Sequence[AnyMessage]) -> str:
    """Everything the customer wrote since the bot's last answer.

    Usually one message; more when an earlier turn failed (LLM down) after its
    message was stored, so nothing the customer said goes unanswered.
    """
    _, pending = split_pending(messages)
    return "\n".join(message_text(m) for m in pending).strip()


def mask_history(messages: Sequence[AnyMessage], turns: int) -> dict[str, str]:
    """The customer messages among the last `turns` exchanges before the pending
    ones whose text masking changes, by message id, with their masked text.

    Parsing phones is CPU-bound (a long message of numbers takes a tenth of a
    second), so a turn does it once, off the event loop (nodes.intent), and its
    prompts take the result from the turn's work (`history_before_pending`).
    Every message of a thread has an id (LangGraph's add_messages gives one)."""
    answered, _ = split_pending(messages)
    masked: dict[str, str] = {}
    for message in answered[-2 * turns :]:
        if isinstance(message, HumanMessage) and message.id:
            text = message_text(message)
            hidden = mask_contacts(text)
            if hidden != text:
                masked[message.id] = hidden
    return masked


def history_before_pending(
    messages: Sequence[AnyMessage], turns: int, masked: Mapping[str, str]
) -> list[AnyMessage]:
    """The last `turns` exchanges before the customer's unanswered messages, a
    customer message shown with its contact data masked where `masked` (made by
    `mask_history` for this turn) has its text."""
    answered, _ = split_pending(messages)
    return [
        HumanMessage(content=masked[m.id], id=m.id)
        if isinstance(m, HumanMessage) and m.id is not None and m.id in masked
        else m
        for m in answered[-2 * turns :]
    ]


def render_history(messages: Sequence[AnyMessage]) -> str:
    lines = []
    for message in messages:
        speaker = SPEAKER_CUSTOMER if isinstance(message, HumanMessage) else SPEAKER_BOT
        lines.append(f"{speaker}: {message_text(message)}")
    return "\n".join(lines) or "(нет)"

"""The dialogue as the prompts show it: the customer's unanswered message(s),
the recent history before them, rendered with who said what. Phones, IINs and
e-mails are masked: code extracts them (core.text.contacts), and a model that
never sees the digits cannot repeat or garble them."""

from __future__ import annotations

from collections.abc import Sequence

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


def history_before_pending(messages: Sequence[AnyMessage], turns: int) -> list[AnyMessage]:
    """The last `turns` exchanges before the customer's unanswered messages, the
    customer's contact data masked."""
    answered, _ = split_pending(messages)
    return [masked(m) for m in answered[-2 * turns :]]


def masked(message: AnyMessage) -> AnyMessage:
    """A customer message with its contact data masked (a copy; others as they are)."""
    if not isinstance(message, HumanMessage):
        return message
    text = message_text(message)
    hidden = mask_contacts(text)
    return message if hidden == text else HumanMessage(content=hidden, id=message.id)


def render_history(messages: Sequence[AnyMessage]) -> str:
    lines = []
    for message in messages:
        speaker = SPEAKER_CUSTOMER if isinstance(message, HumanMessage) else SPEAKER_BOT
        lines.append(f"{speaker}: {message_text(message)}")
    return "\n".join(lines) or "(нет)"

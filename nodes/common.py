"""Helpers shared by nodes: reading the latest customer message and rendering
history and profile for prompts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage

from graph.prompts import FIELD_NAMES_RU, SPEAKER_BOT, SPEAKER_CUSTOMER
from graph.state import split_pending

# Contact data reaches the LLM only as "known": it never needs the digits, and
# what it does not see it cannot repeat into an answer.
_OPAQUE_FIELDS = frozenset({"phone", "iin", "email"})


def message_text(message: AnyMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return " ".join(
        part.get("text", "") if isinstance(part, dict) else str(part) for part in content
    )


def pending_customer_text(messages: Sequence[AnyMessage]) -> str:
    """Everything the customer wrote since the bot's last answer.

    Usually one message; more when an earlier turn failed (LLM down) after its
    message was stored, so nothing the customer said goes unanswered.
    """
    _, pending = split_pending(messages)
    return "\n".join(message_text(m) for m in pending).strip()


def history_before_pending(messages: Sequence[AnyMessage], turns: int) -> list[AnyMessage]:
    """The last `turns` exchanges before the customer's unanswered messages."""
    answered, _ = split_pending(messages)
    return answered[-2 * turns :]


def render_history(messages: Sequence[AnyMessage]) -> str:
    lines = []
    for message in messages:
        speaker = SPEAKER_CUSTOMER if isinstance(message, HumanMessage) else SPEAKER_BOT
        lines.append(f"{speaker}: {message_text(message)}")
    return "\n".join(lines) or "(нет)"


def render_profile(profile: Mapping[str, Any]) -> str:
    parts = []
    for key, value in profile.items():
        if value in (None, "", []):
            continue
        name = FIELD_NAMES_RU.get(key, key)
        if key in _OPAQUE_FIELDS:
            parts.append(f"{name}: получен")
        elif isinstance(value, list):
            parts.append(f"{name}: {', '.join(map(str, value))}")
        elif isinstance(value, bool):
            parts.append(f"{name}: {'да' if value else 'нет'}")
        else:
            parts.append(f"{name}: {value}")
    return "; ".join(parts)

"""Faults the stub can play, switchable at run time: what a misbehaving Ollama
does to the service (`OllamaStub.set_fault`, or `POST /_stub/fault` on the
standalone server).

| mode | what the service sees |
|---|---|
| none | normal replies |
| down | every connection is closed without an answer |
| hang | a chat call gets no answer for `seconds` (default: an hour) |
| slow | a chat call is answered after `seconds` |
| http_500 / http_400 | the chat call answers that status with Ollama's error body |
| non_json | the chat call answers 200 with an HTML page |
| cut_json | the chat call answers 200 with a reply cut off in the middle |
| empty | the model's reply is empty |
| invalid_structured | a structured (JSON-schema) call gets prose instead of JSON |

The faults that answer a chat call (http_*, non_json, cut_json, empty,
invalid_structured) do not consume a scripted reply; `slow` does, after waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

FaultMode = Literal[
    "none",
    "down",
    "hang",
    "slow",
    "http_500",
    "http_400",
    "non_json",
    "cut_json",
    "empty",
    "invalid_structured",
]
FAULT_MODES: tuple[FaultMode, ...] = get_args(FaultMode)
HANG_S = 3600.0


@dataclass(frozen=True, slots=True)
class Fault:
    mode: FaultMode = "none"
    seconds: float = 0.0

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> Fault:
        mode = payload.get("mode", "none")
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault {mode!r} (known: {', '.join(FAULT_MODES)})")
        return cls(mode, float(payload.get("seconds") or 0.0))


@dataclass(frozen=True, slots=True)
class Answer:
    """How to answer a chat call under a fault: a status with a raw body, or
    (status None) the normal reply with its content replaced when `content` is set."""

    status: int | None = None
    body: bytes = b""
    content_type: str = "application/json"
    content: str | None = None


def chat_answer(fault: Fault, request: dict[str, Any]) -> Answer | None:
    """The fault's answer to a chat call; None: answer normally (after any wait)."""
    structured = isinstance(request.get("format"), dict)
    model = str(request.get("model", ""))
    if fault.mode == "http_500":
        return Answer(500, b'{"error": "llama runner process has terminated"}')
    if fault.mode == "http_400":
        return Answer(400, b'{"error": "invalid format: expected \\"json\\" or a JSON schema"}')
    if fault.mode == "non_json":
        return Answer(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
    if fault.mode == "cut_json":
        cut = '{"model": "' + model + '", "created_at": "2026-01-01T00:00:00Z", "message": {"ro'
        return Answer(200, cut.encode(), "application/x-ndjson")
    if fault.mode == "empty":
        return Answer(content="")
    if fault.mode == "invalid_structured" and structured:
        return Answer(content="Конечно! Вот анализ сообщения: клиент спрашивает о цене.")
    return None


def wait_s(fault: Fault) -> float:
    """How long a chat call waits before it is answered."""
    if fault.mode == "hang":
        return fault.seconds or HANG_S
    if fault.mode == "slow":
        return fault.seconds
    return 0.0

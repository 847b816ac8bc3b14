"""The shapes of Ollama's API that the stub answers with: NDJSON chat lines (the
last with `done: true` and token counts) and model listings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

DEFAULT_MODEL = "ministral-3:14b-instruct-2512-q8_0"


def estimate_tokens(text: str) -> int:
    # A stand-in for the model's tokenizer: Russian runs ~3 characters per token
    # in Mistral-family vocabularies.
    return max(1, len(text) // 3)


def now() -> str:
    return datetime.now(UTC).isoformat()


def model_entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": now(),
        "size": 9_300_000_000,
        "digest": "0" * 64,
        "details": {"format": "gguf", "family": "mistral", "parameter_size": "14B"},
    }


def chunk(model: str, text: str, *, done: bool) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": now(),
        "message": {"role": "assistant", "content": text},
        "done": done,
    }


def done(model: str, text: str, request: dict[str, Any], content: str) -> dict[str, Any]:
    prompt = "".join(str(m.get("content", "")) for m in request.get("messages", []))
    return {
        **chunk(model, text, done=True),
        "done_reason": "stop",
        "total_duration": 1,
        "load_duration": 0,
        "prompt_eval_count": estimate_tokens(prompt),
        "prompt_eval_duration": 1,
        "eval_count": estimate_tokens(content),
        "eval_duration": 1,
    }

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


def done(
    model: str,
    text: str,
    request: dict[str, Any],
    content: str,
    *,
    tokens_per_s: float | None = None,
    extra_s: float = 0.0,
) -> dict[str, Any]:
    """The last line of a reply, with Ollama's token counts and timings (in ns).

    Without `tokens_per_s` every duration is 1 ns (an instant model); with it,
    generating the reply takes its tokens at that rate, and `extra_s` (a delay the
    stub played) counts into the total as a model's queueing would."""
    prompt = "".join(str(m.get("content", "")) for m in request.get("messages", []))
    completion = estimate_tokens(content)
    eval_ns = round(completion / tokens_per_s * 1e9) if tokens_per_s else 1
    return {
        **chunk(model, text, done=True),
        "done_reason": "stop",
        "total_duration": 1 + eval_ns + round(extra_s * 1e9),
        "load_duration": 0,
        "prompt_eval_count": estimate_tokens(prompt),
        "prompt_eval_duration": 1,
        "eval_count": completion,
        "eval_duration": eval_ns,
    }

"""What one LLM call cost, as Ollama reports it in the last line of its reply
(token counts and durations in nanoseconds), beside the wall time a client saw."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_NS = 1e9


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


@dataclass(frozen=True)
class CallUsage:
    prompt_tokens: int
    """`prompt_eval_count`: prompt tokens Ollama evaluated (a prefix reused from its
    cache is not counted again)."""
    completion_tokens: int
    """`eval_count`: tokens generated."""
    total_s: float
    """`total_duration`: the call inside Ollama, loading and queueing included."""
    eval_s: float
    """`eval_duration`: the time spent generating `completion_tokens`."""
    wall_s: float
    """From sending the request to the reply's last byte, as the caller saw it."""

    @classmethod
    def of(cls, last_line: Mapping[str, Any], wall_s: float) -> CallUsage:
        """From the reply's `done: true` line (missing fields count as zero)."""
        return cls(
            prompt_tokens=_count(last_line.get("prompt_eval_count")),
            completion_tokens=_count(last_line.get("eval_count")),
            total_s=_count(last_line.get("total_duration")) / _NS,
            eval_s=_count(last_line.get("eval_duration")) / _NS,
            wall_s=wall_s,
        )

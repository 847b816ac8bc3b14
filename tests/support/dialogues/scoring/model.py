"""The scorecard's data: what each played turn cost and what the guard found in
it, per dialogue and in total, and its JSON form (`score.json`).

Totals are always computed from the turns, never kept beside them, so a report
can not disagree with itself; rates are per turn played (a failed turn counts:
its calls were made and its latency waited).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT = "salesbot-score/1"


@dataclass
class CallScore:
    """One LLM call: `analysis` (a structured call or its repair) or `answer`."""

    kind: str
    prompt_tokens: int
    completion_tokens: int
    total_s: float
    """Ollama's total_duration of the call."""
    eval_s: float
    """Ollama's eval_duration: generating `completion_tokens`."""
    wall_s: float


@dataclass
class TurnScore:
    number: int
    customer: str
    answer: str
    status: int
    """The HTTP status of POST /api/v1/process (200, or 503 when the model failed)."""
    latency_s: float
    """The turn as the caller waited for it, from request to answer."""
    error: str = ""
    intent: str | None = None
    phase: str | None = None
    outcome: str | None = None
    handoff: bool = False
    calls: list[CallScore] = field(default_factory=list)
    drafts: list[list[str]] = field(default_factory=list)
    """The guard codes of each draft the guard checked, in order."""
    violations_after: list[str] = field(default_factory=list)
    """The codes the answer the customer got still breaks."""
    edited: bool = False
    """A draft was fixed by cutting sentences out (no regeneration)."""
    fallback: bool = False
    """The regenerated draft was still bad and was repaired deterministically."""
    fixed_answer: bool = False
    """The customer got one of the guard's fixed texts: the content was lost."""

    @property
    def violations_before(self) -> list[str]:
        """Every code found in the turn's drafts (each once), before any repair."""
        return list(dict.fromkeys(code for codes in self.drafts for code in codes))

    @property
    def regenerations(self) -> int:
        return max(0, len(self.drafts) - 1)

    @property
    def llm_calls(self) -> int:
        return len(self.calls)

    @property
    def prompt_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.calls)

    @property
    def llm_s(self) -> float:
        return sum(c.total_s for c in self.calls)

    @property
    def eval_s(self) -> float:
        return sum(c.eval_s for c in self.calls)

    @property
    def tokens_per_s(self) -> float | None:
        return rate(self.completion_tokens, self.eval_s)

    @property
    def failed(self) -> bool:
        return self.status != 200

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            violations_before=self.violations_before,
            regenerations=self.regenerations,
            llm_calls=self.llm_calls,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            llm_s=round(self.llm_s, 4),
            tokens_per_s=_round(self.tokens_per_s, 2),
        )
        return data


@dataclass
class DialogueScore:
    index: int
    """Its place in the run's list of dialogues (reports keep that order)."""
    path: str
    test_case: str
    steps: int
    """Customer lines in the file; fewer turns were played when it stopped early."""
    turns: list[TurnScore] = field(default_factory=list)
    complete: bool = False
    error: str = ""
    """Why the dialogue stopped before its last line."""

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "test_case": self.test_case,
            "steps": self.steps,
            "complete": self.complete,
            "error": self.error,
            "totals": totals(self.turns),
            "turns": [t.as_json() for t in self.turns],
        }


@dataclass
class ScoreRun:
    model: str
    ollama: str
    started_at: str
    planned: int
    """Dialogues the run was asked to play."""
    revision: str | None = None
    """The checkout's commit (with "+changes" when files differ from it)."""
    finished_at: str | None = None
    interrupted: bool = False
    dialogues: list[DialogueScore] = field(default_factory=list)

    def ordered(self) -> list[DialogueScore]:
        return sorted(self.dialogues, key=lambda d: d.index)

    def turns(self) -> list[TurnScore]:
        return [t for d in self.ordered() for t in d.turns]

    def as_json(self) -> dict[str, Any]:
        dialogues = self.ordered()
        return {
            "format": FORMAT,
            "model": self.model,
            "ollama": self.ollama,
            "revision": self.revision,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "interrupted": self.interrupted,
            "dialogues_planned": self.planned,
            "dialogues_played": len(dialogues),
            "dialogues_complete": sum(d.complete for d in dialogues),
            "totals": totals(self.turns()),
            "dialogues": [d.as_json() for d in dialogues],
        }


def rate(amount: float, seconds: float) -> float | None:
    return amount / seconds if seconds > 0 else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def percentile(values: Sequence[float], share: float) -> float | None:
    """The `share` (0..1) percentile with linear interpolation between ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _per_100(counts: Counter[str], turns: int) -> dict[str, float]:
    return {code: round(n * 100 / turns, 2) for code, n in sorted(counts.items()) if turns}


def _by_kind(lists: Iterable[list[str]]) -> Counter[str]:
    """Turns in which each code occurs."""
    return Counter(code for codes in lists for code in set(codes))


def totals(turns: Sequence[TurnScore]) -> dict[str, Any]:
    """The sums and rates of `turns` (a dialogue's, or the whole run's)."""
    n = len(turns)
    before = _by_kind(t.violations_before for t in turns)
    after = _by_kind(t.violations_after for t in turns)
    latencies = [t.latency_s for t in turns]
    calls = sum(t.llm_calls for t in turns)
    prompt = sum(t.prompt_tokens for t in turns)
    completion = sum(t.completion_tokens for t in turns)
    eval_s = sum(t.eval_s for t in turns)

    def per_turn(amount: float) -> float | None:
        return round(amount / n, 3) if n else None

    return {
        "turns": n,
        "failed_turns": sum(t.failed for t in turns),
        "llm_calls": calls,
        "llm_calls_per_turn": per_turn(calls),
        "prompt_tokens": prompt,
        "prompt_tokens_per_turn": per_turn(prompt),
        "completion_tokens": completion,
        "completion_tokens_per_turn": per_turn(completion),
        "llm_s": round(sum(t.llm_s for t in turns), 4),
        "eval_s": round(eval_s, 4),
        "tokens_per_s": _round(rate(completion, eval_s), 2),
        "latency_s": {
            "p50": _round(percentile(latencies, 0.50), 4),
            "p95": _round(percentile(latencies, 0.95), 4),
            "mean": _round(statistics.fmean(latencies), 4) if latencies else None,
            "max": _round(max(latencies), 4) if latencies else None,
        },
        "regenerations": sum(t.regenerations for t in turns),
        "edits": sum(t.edited for t in turns),
        "fallbacks": sum(t.fallback for t in turns),
        "fixed_answers": sum(t.fixed_answer for t in turns),
        "turns_flagged_before": sum(bool(t.violations_before) for t in turns),
        "turns_flagged_after": sum(bool(t.violations_after) for t in turns),
        "violations_before": dict(sorted(before.items())),
        "violations_after": dict(sorted(after.items())),
        "violations_before_per_100_turns": _per_100(before, n),
        "violations_after_per_100_turns": _per_100(after, n),
    }

"""The diff-like report of a dialogue that failed, and how to re-record one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.dialogues.checker import Mismatch, Note
from tests.support.dialogues.driver import Observation
from tests.support.dialogues.format import DEFAULT_OLLAMA_HINT, LoadedDialogue


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is below it (copy-pasteable)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def rerecord_command(path: Path, model: str | None = None) -> str:
    model_arg = f" --model {model}" if model else ""
    return (
        f"salesbot dialogues record {display_path(path)} --ollama {DEFAULT_OLLAMA_HINT}{model_arg}"
    )


@dataclass
class StepFailure:
    """The first step of a dialogue that went wrong, with everything needed to read why."""

    index: int
    observed: Observation | None
    mismatches: list[Mismatch] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)


@dataclass
class ReplayResult:
    loaded: LoadedDialogue
    observations: list[Observation]
    failure: StepFailure | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None

    @property
    def stale(self) -> bool:
        """The failure is a recording that no longer lines up with the code's calls."""
        return self.failure is not None and bool(self.failure.stale)

    def report(self) -> str:
        return format_failure(self.loaded, self.failure) if self.failure else "passed"


def quote(value: Any) -> str:
    if isinstance(value, Note):
        return str(value)
    if isinstance(value, str):
        return f"«{value}»"
    return json.dumps(value, ensure_ascii=False, default=str)


def format_failure(loaded: LoadedDialogue, failure: StepFailure) -> str:
    """A diff-like report: dialogue, step, assertion, expected, actual, and the answer."""
    dialogue = loaded.dialogue
    step = dialogue.steps[failure.index]
    lines = [
        f"dialogue {display_path(loaded.path)} ({dialogue.test_case})",
        f"step {failure.index + 1} of {len(dialogue.steps)}"
        + (f" (at {step.at})" if step.at else ""),
        f"  customer: «{step.user}»",
    ]
    observed = failure.observed
    if observed is not None:
        if observed.status == 200:
            lines.append(f"  answer:   «{observed.answer}»")
        else:
            lines.append(f"  HTTP {observed.status}: {observed.error}")
        summary = observed.summary().splitlines()
        lines += [f"  observed: {summary[0]}", *(f"            {line}" for line in summary[1:])]
    if failure.stale:
        lines.append("the recording is stale:")
        lines += [f"  - {problem}" for problem in failure.stale]
        model = dialogue.recorded_with.model if dialogue.recorded_with else None
        lines += [
            "re-record it against a live Ollama, then review the draft assertions:",
            f"  {rerecord_command(loaded.path, model)}",
        ]
    for mismatch in failure.mismatches:
        lines += [
            f"assertion failed: {mismatch.assertion}",
            f"  - expected: {quote(mismatch.expected)}",
            f"  + actual:   {quote(mismatch.actual)}",
        ]
    return "\n".join(lines)

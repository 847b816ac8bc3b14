"""`salesbot dialogues score-diff A.json B.json`: two scorecard runs side by side
(two models, or two prompt versions), as plain text for a terminal."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.support.dialogues.scoring.model import FORMAT

LABEL = 46
COLUMN = 24
"""The narrowest value column; a longer value (a model's name) widens both."""


class ScoreFileError(ValueError):
    """Not a scorecard's score.json; the message says which file and why."""


def load_score(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScoreFileError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise ScoreFileError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ScoreFileError(f'{path}: not a scorecard (no "format": "{FORMAT}")')
    return data


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _delta(a: Any, b: Any) -> str:
    if isinstance(a, int | float) and isinstance(b, int | float) and a != b:
        change = b - a
        return f"{change:+.2f}" if isinstance(change, float) else f"{change:+d}"
    return ""


Row = tuple[str, str, str, str]


def _row(label: str, a: Any, b: Any, *, delta: bool = True) -> Row:
    return label, _fmt(a), _fmt(b), _delta(a, b) if delta else ""


def _table(rows: list[Row]) -> list[str]:
    width = max([COLUMN - 2, *(len(v) for row in rows for v in row[1:3])]) + 2
    return [f"{n:<{LABEL}}{a:<{width}}{b:<{width}}{d}".rstrip() for n, a, b, d in rows]


Metric = tuple[str, Callable[[Mapping[str, Any]], Any]]
METRICS: list[Metric] = [
    ("turns played", lambda t: t["turns"]),
    ("failed turns", lambda t: t["failed_turns"]),
    ("LLM calls per turn", lambda t: t["llm_calls_per_turn"]),
    ("prompt tokens per turn", lambda t: t["prompt_tokens_per_turn"]),
    ("completion tokens per turn", lambda t: t["completion_tokens_per_turn"]),
    ("latency p50 (s)", lambda t: t["latency_s"]["p50"]),
    ("latency p95 (s)", lambda t: t["latency_s"]["p95"]),
    ("generation speed (tokens/s)", lambda t: t["tokens_per_s"]),
    ("turns flagged before repair", lambda t: t["turns_flagged_before"]),
    ("turns flagged after repair", lambda t: t["turns_flagged_after"]),
    ("regenerations", lambda t: t["regenerations"]),
    ("edits in place", lambda t: t["edits"]),
    ("fallbacks", lambda t: t["fallbacks"]),
    ("answers replaced by a fixed text", lambda t: t["fixed_answers"]),
]


def _dialogue_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Dialogues of both runs whose guard result differs, one line each."""
    by_case = {d["test_case"]: d for d in b["dialogues"]}
    lines = []
    for left in a["dialogues"]:
        right = by_case.get(left["test_case"])
        if right is None:
            continue
        ta, tb = left["totals"], right["totals"]
        changes = [
            f"{name} {ta[key]} → {tb[key]}"
            for name, key in (
                ("flagged", "turns_flagged_before"),
                ("still breaking", "turns_flagged_after"),
                ("fallbacks", "fallbacks"),
                ("failed", "failed_turns"),
            )
            if ta[key] != tb[key]
        ]
        if changes:
            lines.append(f"  {left['test_case']}: {', '.join(changes)}")
    return lines


def render_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    ta, tb = a["totals"], b["totals"]
    rows = [
        _row("", "A", "B", delta=False),
        _row("model", a["model"], b["model"], delta=False),
        _row("revision", a["revision"], b["revision"], delta=False),
        _row("started", a["started_at"][:19], b["started_at"][:19], delta=False),
        _row(
            "dialogues played (complete)",
            f"{a['dialogues_played']} ({a['dialogues_complete']})",
            f"{b['dialogues_played']} ({b['dialogues_complete']})",
            delta=False,
        ),
    ]
    rows += [_row(label, pick(ta), pick(tb)) for label, pick in METRICS]
    kinds = sorted(
        {
            *ta["violations_before_per_100_turns"],
            *tb["violations_before_per_100_turns"],
            *ta["violations_after_per_100_turns"],
            *tb["violations_after_per_100_turns"],
        }
    )
    rows.append(_row("", "", "", delta=False))
    rows.append(_row("guard violations per 100 turns (before repair → after):", "", ""))
    if not kinds:
        rows.append(_row("  none in either run", "", ""))
    for kind in kinds:

        def rates(t: Mapping[str, Any], code: str = kind) -> str:
            before = t["violations_before_per_100_turns"].get(code, 0.0)
            after = t["violations_after_per_100_turns"].get(code, 0.0)
            return f"{before:.1f} → {after:.1f}"

        rows.append(_row(f"  {kind}", rates(ta), rates(tb), delta=False))
    lines = _table(rows)
    changes = _dialogue_changes(a, b)
    if changes:
        lines += ["", "dialogues whose guard result differs (A → B):", *changes]
    cases_a = {d["test_case"] for d in a["dialogues"]}
    cases_b = {d["test_case"] for d in b["dialogues"]}
    only_a, only_b = sorted(cases_a - cases_b), sorted(cases_b - cases_a)
    if only_a or only_b:
        lines += ["", "the runs played different dialogues; totals are not comparable one to one:"]
        if only_a:
            lines.append(f"  only in A: {', '.join(only_a)}")
        if only_b:
            lines.append(f"  only in B: {', '.join(only_b)}")
    return "\n".join(lines) + "\n"

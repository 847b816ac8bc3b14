"""`score.md`: the scorecard for a person — the run's summary and the guard's
findings by kind at the top, a table of the dialogues, then every dialogue turn
by turn with the customer's line, the answer the customer got and what to notice.

It is rendered from the JSON form (`ScoreRun.as_json()`), so both files always
say the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tests.support.dialogues.scoring.flags import MARK_BROKEN, MARK_FLAGGED, turn_flags

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _literal(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)


def escape(text: str) -> str:
    """`text` shown as written (no Markdown or HTML read into it), on one line."""
    return _literal(" ".join(str(text).split()))


def _quote(text: str) -> str:
    lines = str(text).splitlines() or [""]
    return "\n".join(f"> {_literal(line)}".rstrip() for line in lines)


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _seconds(value: Any) -> str:
    return "–" if value is None else f"{value:.2f} s"


def _table(header: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    aligns = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in aligns]
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(rule) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _summary(t: Mapping[str, Any]) -> list[str]:
    latency = t["latency_s"]
    rows = [
        ["turns played (failed)", f"{t['turns']} ({t['failed_turns']})"],
        ["LLM calls per turn", _num(t["llm_calls_per_turn"])],
        ["prompt tokens per turn", _num(t["prompt_tokens_per_turn"], 0)],
        ["completion tokens per turn", _num(t["completion_tokens_per_turn"], 0)],
        ["latency p50 / p95", f"{_seconds(latency['p50'])} / {_seconds(latency['p95'])}"],
        ["generation speed (tokens/s)", _num(t["tokens_per_s"], 1)],
        [
            "turns flagged by the guard: before repair → after",
            f"{t['turns_flagged_before']} → {t['turns_flagged_after']}",
        ],
        ["regenerations", str(t["regenerations"])],
        ["edits in place", str(t["edits"])],
        ["fallbacks (repaired after a regeneration)", str(t["fallbacks"])],
        ["answers replaced by a fixed text", str(t["fixed_answers"])],
    ]
    return _table(["", "value"], rows)


def _violations(t: Mapping[str, Any]) -> list[str]:
    kinds = sorted(set(t["violations_before"]) | set(t["violations_after"]))
    if not kinds:
        return ["No guard violations."]
    rows = []
    for kind in kinds:
        before, after = t["violations_before"].get(kind, 0), t["violations_after"].get(kind, 0)
        rate_before = t["violations_before_per_100_turns"].get(kind, 0.0)
        rate_after = t["violations_after_per_100_turns"].get(kind, 0.0)
        rows.append([f"`{kind}`", f"{before} ({rate_before:.1f})", f"{after} ({rate_after:.1f})"])
    return _table(["kind", "before repair (per 100 turns)", "after (per 100 turns)"], rows)


def _dialogue_rows(dialogues: list[Mapping[str, Any]]) -> list[str]:
    rows = []
    for number, d in enumerate(dialogues, 1):
        t = d["totals"]
        state = "" if d["complete"] else f" {MARK_BROKEN} stopped"
        rows.append(
            [
                f"[{number}](#{number}-{_anchor(d['test_case'])})",
                f"{escape(d['test_case'])}{state}",
                f"{t['turns']}/{d['steps']}",
                _num(t["llm_calls_per_turn"]),
                _num(t["prompt_tokens_per_turn"], 0),
                _num(t["latency_s"]["p50"]),
                _num(t["latency_s"]["p95"]),
                _num(t["tokens_per_s"], 1),
                f"{t['turns_flagged_before']} → {t['turns_flagged_after']}",
                str(t["regenerations"]),
                str(t["fallbacks"]),
            ]
        )
    header = [
        "#",
        "dialogue",
        "turns",
        "calls/turn",
        "prompt tok/turn",
        "p50 s",
        "p95 s",
        "tok/s",
        "flagged before → after",
        "regen.",
        "fallbacks",
    ]
    return _table(header, rows, "ll" + "r" * 9)


def _anchor(text: str) -> str:
    return re.sub(r"[^\w-]", "", text.lower().replace(" ", "-"))


def _turn(turn: Mapping[str, Any]) -> list[str]:
    speed = turn["tokens_per_s"]
    facts = (
        f"{turn['llm_calls']} calls · {turn['latency_s']:.2f} s · "
        f"{turn['prompt_tokens']} prompt + {turn['completion_tokens']} completion tokens"
        + (f" · {speed:.1f} tok/s" if speed else "")
        + f" · {turn['intent']} / {turn['phase']}"
        + (f" → {turn['outcome']}" if turn["outcome"] else "")
        + (" · handoff" if turn["handoff"] else "")
    )
    flags = [escape(flag) for flag in turn_flags(turn)]
    return [
        f"**{turn['number']}. Customer:** {escape(turn['customer'])}",
        "",
        _quote(turn["answer"]) if turn["answer"] else "> *(no answer)*",
        "",
        f"<sub>{escape(facts)}</sub>" + (f"  \n**{' · '.join(flags)}**" if flags else ""),
        "",
    ]


def _dialogue(number: int, d: Mapping[str, Any]) -> list[str]:
    t = d["totals"]
    state = "complete" if d["complete"] else f"{MARK_BROKEN} stopped: {escape(d['error'])}"
    lines = [
        f"### {number}. {escape(d['test_case'])}",
        "",
        f"`{d['path']}` · {t['turns']}/{d['steps']} turns · {state} · "
        f"{_num(t['llm_calls_per_turn'])} calls/turn · p50 {_seconds(t['latency_s']['p50'])}",
        "",
    ]
    for turn in d["turns"]:
        lines.extend(_turn(turn))
    return lines


def render(data: Mapping[str, Any]) -> str:
    """The Markdown report of a run (`ScoreRun.as_json()`)."""
    t = data["totals"]
    interrupted = f" · **{MARK_BROKEN} interrupted**" if data["interrupted"] else ""
    lines = [
        f"# Dialogue scorecard: {escape(data['model'])}",
        "",
        f"Ollama {escape(data['ollama'])} · revision {escape(data['revision'] or 'unknown')} · "
        f"{data['started_at']} → {data['finished_at'] or '…'} · "
        f"{data['dialogues_played']}/{data['dialogues_planned']} dialogues played, "
        f"{data['dialogues_complete']} complete{interrupted}",
        "",
        "## Summary",
        "",
        *_summary(t),
        "",
        "### Guard violations by kind",
        "",
        "Turns in which the guard found each kind in a draft (before repair), and in "
        "the answer the customer got (after).",
        "",
        *_violations(t),
        "",
        "## Dialogues",
        "",
        *_dialogue_rows(data["dialogues"]),
        "",
        f"{MARK_FLAGGED} the guard caught something · {MARK_BROKEN} it reached the customer "
        "or the turn failed",
        "",
    ]
    for number, dialogue in enumerate(data["dialogues"], 1):
        lines.extend(_dialogue(number, dialogue))
    return "\n".join(lines).rstrip() + "\n"

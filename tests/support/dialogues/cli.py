"""`salesbot dialogues` (also `python -m tests.support.dialogues`): the recorded
dialogues against a live Ollama.

`salesbot dialogues record FILE --ollama URL [--model M] [--cassette]` plays a
dialogue's customer lines against a live Ollama and stores the replies (see
tests/dialogues/README.md).

`salesbot dialogues score --ollama URL [--model M] [--dialogues DIR|FILE ...]
[--out DIR] [--concurrency N]` is the live-model scorecard, for comparing two
models or two prompt versions on the GPU server. It plays the customer lines of
every dialogue (default: all of tests/dialogues; the recorded replies are never
used) through the real service — its FastAPI app and turn runner in process,
with a fresh SQLite database in a temporary directory and a temporary KB index,
so the operator's database, settings and caches are not touched — against the
Ollama at URL with model M (default: the settings' model). Before anything it
asks URL's /api/tags: an unreachable URL or a missing model is one line on
stderr and exit code 2. Progress goes to stderr, a line per turn and per
dialogue. Into --out (default build/score/<model>-<time>) it writes, after each
dialogue and at the end:

- score.json: per dialogue and turn the customer's line, the final answer, the
  guard codes of each checked draft ("violations_before": all of them) and those
  the final answer still breaks ("violations_after"), regenerations, an edit in
  place, the fallback (the deterministic repair after a regeneration), a fixed
  text, and per LLM call the prompt and completion tokens, Ollama's
  total/eval durations and the wall time (Ollama's `prompt_eval_count`,
  `eval_count`, `total_duration`, `eval_duration`, read by a proxy in front of
  it); the turn's latency; and totals per dialogue and for the run (calls and
  tokens per turn, latency p50/p95, tokens/s = eval_count / eval_duration,
  violations by kind and per 100 turns before and after repair).
- score.md: the same for a person: the summary and the violations by kind on
  top, a table of dialogues, then every turn's customer line and final answer
  with its flags (⚠ caught by the guard, ✗ reached the customer or failed).

Ctrl-C lets the turn in progress finish, stops and writes what was played (exit
130; a second Ctrl-C stops at once); a turn the service
could not answer stops its dialogue (exit 1 at the end). `--concurrency`
plays several dialogues at once (latencies then include Ollama's queueing).

`salesbot dialogues score-diff A.json B.json` prints two runs' totals side by
side with the change, the violation rates by kind, and the dialogues whose guard
result differs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.support.dialogues.format import CASSETTE_SUFFIX, DialogueFormatError, load_dialogue
from tests.support.dialogues.recorder import RecordingError, apply_recording, record
from tests.support.dialogues.report import quote
from tests.support.dialogues.scoring.command import add_parsers as add_score_parsers


def _write(text: str) -> None:
    sys.stdout.write(text + "\n")


def record_main(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        loaded = load_dialogue(path)
    except DialogueFormatError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    try:
        recording = asyncio.run(record(loaded, args.ollama, model=args.model))
    except RecordingError as exc:
        sys.stderr.write(f"recording failed, nothing written: {exc}\n")
        return 1
    summary = apply_recording(recording, use_cassette=args.cassette)
    steps = len(loaded.dialogue.steps)
    calls = sum(len(r) for r in recording.replies)
    _write(f"recorded {steps} steps ({calls} LLM replies, model {recording.model})")
    for written in summary.files:
        _write(f"  wrote {written}")
    if summary.drafted_steps:
        _write(
            f"draft assertions for steps {summary.drafted_steps}: review them, keep what "
            "matters, then remove `draft: true`"
        )
    for number, mismatches in summary.broken:
        _write(f"step {number}: the new recording breaks reviewed assertions:")
        for mismatch in mismatches:
            _write(
                f"  {mismatch.assertion}: expected {quote(mismatch.expected)}, "
                f"got {quote(mismatch.actual)}"
            )
    return 1 if summary.broken else 0


def add_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="dialogues_command", required=True)
    rec = commands.add_parser(
        "record",
        help="play a dialogue's customer lines against a live Ollama and store the replies",
        description=(
            "Runs FILE's customer lines through the service with a live Ollama, stores "
            "the raw LLM replies (inline, or in the dialogue's cassette) and writes what "
            "happened as draft assertions for steps that have none. Reviewed assertions "
            "are kept; the command exits 1 when the new recording breaks them. The file "
            "is rewritten, so YAML comments in it are not kept."
        ),
    )
    rec.add_argument("file", help="the dialogue YAML file")
    rec.add_argument("--ollama", required=True, help="live Ollama URL, e.g. http://gpu:11434")
    rec.add_argument("--model", help="model name (default: settings.yaml / OLLAMA_MODEL)")
    rec.add_argument(
        "--cassette",
        action="store_true",
        help=f"store the replies in <name>{CASSETTE_SUFFIX} next to the file",
    )
    rec.set_defaults(func=record_main)
    add_score_parsers(commands)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="salesbot dialogues", description="recorded dialogues (the regression suite)"
    )
    add_commands(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))

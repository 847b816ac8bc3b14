"""`salesbot dialogues record` (also `python -m tests.support.dialogues record`):
play a dialogue's customer lines against a live Ollama and store the replies."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.support.dialogues.format import CASSETTE_SUFFIX, DialogueFormatError, load_dialogue
from tests.support.dialogues.recorder import RecordingError, apply_recording, record
from tests.support.dialogues.report import quote


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="salesbot dialogues", description="recorded dialogues (the regression suite)"
    )
    add_commands(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))

"""The scorecard's commands: `salesbot dialogues score` (play the dialogues
against a live model, write score.json and score.md) and `salesbot dialogues
score-diff` (two runs side by side). See tests/support/dialogues/cli.py."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from core.cli import positive_int
from core.settings import SettingsError, load_settings
from tests.support.dialogues.format import (
    CASSETTE_SUFFIX,
    DialogueFormatError,
    LoadedDialogue,
    load_dialogue,
)
from tests.support.dialogues.scoring.diff import ScoreFileError, load_score, render_diff
from tests.support.dialogues.scoring.markdown import render
from tests.support.dialogues.scoring.model import ScoreRun
from tests.support.dialogues.scoring.play import play_all
from tests.support.dialogues.scoring.preflight import PreflightError, check_ollama

ROOT = Path(__file__).resolve().parents[4]
DIALOGUES = ROOT / "tests" / "dialogues"
OUT_ROOT = Path("build") / "score"
PROG = "salesbot dialogues score"
EXIT_INTERRUPTED = 130


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def find_dialogues(paths: Iterable[Path]) -> list[Path]:
    """The dialogue files named, and those under the directories named (sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*.y*ml")
                    if p.suffix in {".yaml", ".yml"} and not p.name.endswith(CASSETTE_SUFFIX)
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")
    return list(dict.fromkeys(p.resolve() for p in found))


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=5, check=True
    ).stdout.strip()


def revision() -> str | None:
    """The checkout's commit, "+changes" when tracked files differ from it: what
    tells two prompt versions apart in a comparison."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        changes = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+changes" if changes else "") if commit else None


def default_out_dir(model: str, started: datetime) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", model).strip("_") or "model"
    return OUT_ROOT / f"{safe}-{started:%Y%m%d-%H%M%S}"


def _write(path: Path, text: str) -> None:
    # Written aside and renamed: an interrupted write never leaves half a report.
    part = path.with_name(path.name + ".part")
    part.write_text(text, encoding="utf-8")
    os.replace(part, path)


def write_reports(run: ScoreRun, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    data = run.as_json()
    json_path, md_path = out / "score.json", out / "score.md"
    _write(json_path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    _write(md_path, render(data))
    return json_path, md_path


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _load(paths: Sequence[str]) -> list[LoadedDialogue]:
    files = find_dialogues([Path(p) for p in paths] or [DIALOGUES])
    return [load_dialogue(path) for path in files]


def score_main(args: argparse.Namespace) -> int:
    try:
        model = args.model or load_settings().llm.model
        dialogues = _load(args.dialogues)
    except (SettingsError, DialogueFormatError, FileNotFoundError) as exc:
        _say(f"{PROG}: {exc}")
        return 2
    if not dialogues:
        _say(f"{PROG}: no dialogue files found")
        return 2
    try:
        check_ollama(args.ollama, model)
    except PreflightError as exc:
        _say(f"{PROG}: {exc}")
        return 2
    started = _now()
    out = Path(args.out) if args.out else default_out_dir(model, started)
    run = ScoreRun(
        model=model,
        ollama=args.ollama,
        started_at=started.isoformat(),
        planned=len(dialogues),
        revision=revision(),
    )
    steps = sum(len(d.dialogue.steps) for d in dialogues)
    _say(
        f"scoring {len(dialogues)} dialogues ({steps} customer lines) with {model} at "
        f"{args.ollama}, {args.concurrency} at a time; reports in {out}"
    )
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, _stop_after_this_turn(stop))
    try:
        with tempfile.TemporaryDirectory(prefix="salesbot-score-kb-") as kb_cache:
            try:
                asyncio.run(
                    play_all(
                        dialogues,
                        run,
                        concurrency=args.concurrency,
                        kb_cache_dir=Path(kb_cache),
                        progress=_say,
                        on_dialogue_done=lambda: write_reports(run, out),
                        should_stop=stop.is_set,
                    )
                )
            except KeyboardInterrupt:
                stop.set()
    finally:
        signal.signal(signal.SIGINT, previous)
    run.interrupted = stop.is_set()
    run.finished_at = _now().isoformat()
    json_path, md_path = write_reports(run, out)
    played = run.turns()
    state = "interrupted" if run.interrupted else "done"
    _say(
        f"{state}: {len(run.dialogues)}/{run.planned} dialogues, {len(played)} turns; "
        f"wrote {md_path} and {json_path}"
    )
    if run.interrupted:
        return EXIT_INTERRUPTED
    return 1 if any(d.error for d in run.dialogues) else 0


def _stop_after_this_turn(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    """The first Ctrl-C lets the turn in progress finish (its answer, calls and
    tokens are worth keeping) and stops before the next one; a second stops at once.
    A flag, not asyncio's cancellation: a cancel can land anywhere in the service's
    turn, and a turn cut in half says nothing about the model."""

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _say(f"{PROG}: stopping after this turn (Ctrl-C again to stop now)")

    return on_sigint


def score_diff_main(args: argparse.Namespace) -> int:
    try:
        a, b = load_score(Path(args.a)), load_score(Path(args.b))
    except ScoreFileError as exc:
        _say(f"salesbot dialogues score-diff: {exc}")
        return 2
    sys.stdout.write(render_diff(a, b))
    return 0


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    score = commands.add_parser(
        "score",
        help="play every dialogue's customer lines against a live model and write a scorecard",
        description=(
            "Plays the customer lines of the recorded dialogues (never their recorded "
            "replies) through the real service, with a fresh temporary database, against "
            "the live Ollama at URL, and writes score.json and score.md: per turn the "
            "answer, guard violations before and after repair, regenerations, fallbacks, "
            "LLM calls, tokens, latency and tokens/s; per dialogue and in total their "
            "sums, p50/p95 latency and violations per 100 turns. Exit 0, 1 when a turn "
            "failed, 2 when the run cannot start, 130 on Ctrl-C (what was played is written)."
        ),
    )
    score.add_argument("--ollama", required=True, help="live Ollama URL, e.g. http://gpu:11434")
    score.add_argument("--model", help="model name (default: settings.yaml / OLLAMA_MODEL)")
    score.add_argument(
        "--dialogues",
        nargs="+",
        default=[],
        metavar="DIR|FILE",
        help=f"dialogue files or directories (default: {DIALOGUES.relative_to(ROOT)})",
    )
    score.add_argument(
        "--out", metavar="DIR", help=f"report directory (default: {OUT_ROOT}/<model>-<time>)"
    )
    score.add_argument(
        "--concurrency",
        type=positive_int,
        default=1,
        help="dialogues played at once (default 1: latencies without queueing)",
    )
    score.set_defaults(func=score_main)

    diff = commands.add_parser(
        "score-diff",
        help="two scorecards (score.json) side by side",
        description="Prints the totals of two scorecard runs side by side with the change.",
    )
    diff.add_argument("a", help="the first run's score.json")
    diff.add_argument("b", help="the second run's score.json")
    diff.set_defaults(func=score_diff_main)

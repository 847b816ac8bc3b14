"""`salescontrol recorder --config FILE` and `python -m salescontrol.recorder --config FILE`.

    --check           validate the configuration and find ffmpeg/ffprobe, then exit
    --requeue-failed  move the chunks in failed/ back to the outbox, then exit
                      (after fixing what the server rejected them for, e.g. a token)

A bad configuration is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from core.logs import configure_logging
from salescontrol.recorder.config import Config, ConfigError, load_config

DEFAULT_CONFIG = Path("/etc/salescontrol/recorder.yaml")


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help=f"YAML file (default {DEFAULT_CONFIG})"
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="validate the config and exit")
    action.add_argument(
        "--requeue-failed", action="store_true", help="move failed/ chunks back to the outbox"
    )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `recorder` subcommand of the main CLI; its `func` returns the exit status."""
    parser = sub.add_parser("recorder", help="record the shop day and upload it (the Pi's agent)")
    _arguments(parser)
    parser.set_defaults(func=run_command)


def _say(line: str, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(line + "\n")
    out.flush()


def _check(config: Config) -> int:
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        _say(f"recorder: not found on PATH: {', '.join(missing)}", sys.stderr)
        return 1
    rec = config.recording
    hours = f"{rec.hours.start:%H:%M}-{rec.hours.end:%H:%M}" if rec.hours else "always"
    _say(
        f"config ok: source {rec.source}, {rec.chunk_s} s chunks, hours {hours} "
        f"({rec.timezone}), spool {config.spool.dir}, server {config.server.url}"
    )
    return 0


def _requeue(config: Config) -> int:
    from salescontrol.recorder.spool import Spool

    spool = Spool(config.spool.dir)
    spool.prepare()
    moved = 0
    for seq in spool.seqs("failed"):
        if spool.audio("failed", seq).exists():
            spool.move(seq, "failed", "outbox", spool.load("failed", seq).queued())
            moved += 1
    _say(f"requeued {moved} chunk(s) from {spool.dir('failed')}")
    return 0


async def _serve(config: Config) -> int:
    from salescontrol.recorder.agent import Agent

    agent = Agent(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, agent.stop)
    return await agent.run()


def run_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        _say(f"recorder: configuration error: {exc}", sys.stderr)
        return 2
    if args.check:
        return _check(config)
    if args.requeue_failed:
        return _requeue(config)
    configure_logging(config.log_level)
    return asyncio.run(_serve(config))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m salescontrol.recorder",
        description="SalesControl's recorder agent: records the shop day and uploads it",
    )
    _arguments(parser)
    return run_command(parser.parse_args(argv))

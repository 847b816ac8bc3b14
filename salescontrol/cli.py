"""The `salescontrol` command line.

    salescontrol dev                   the ingest API on an embedded PostgreSQL (development)
    salescontrol serve                 the ingest API on DATABASE_URL (production)
    salescontrol db upgrade            run the migrations on DATABASE_URL
    salescontrol users create --login L [--admin]   a user (the first admin, too)
    salescontrol worker vad|asr|analysis [--api URL]  a pipeline worker
    salescontrol asr prepare           join and verify the bundled Whisper model
    salescontrol demo [--days N] [--if-empty] [--asr]   demo data for the dashboard
    salescontrol recorder --config F   the recorder agent (on the Pi:
                                       python -m salescontrol.recorder)

The server's commands live in salescontrol/commands.py and are imported only when
one of them runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from salescontrol.pipeline.asr.cli import add_parser as add_asr_parser
from salescontrol.pipeline.messages import KINDS
from salescontrol.recorder.cli import add_parser as add_recorder_parser


def _lazy(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        command: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module("salescontrol.commands"), name
        )
        return command(args)

    return run


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salescontrol", description="SalesControl")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("serve", "serve_main", "run the ingest API on DATABASE_URL"),
        ("dev", "dev_main", "run the ingest API on an embedded PostgreSQL (development)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--host", help="bind address (default: SALESCONTROL_HOST or 127.0.0.1)")
        p.add_argument("--port", type=int, help="port (default: SALESCONTROL_PORT or 8100)")
        p.set_defaults(func=_lazy(func))
    db = sub.add_parser("db", help="the database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="run the migrations").set_defaults(func=_lazy("db_main"))
    users = sub.add_parser("users", help="dashboard and API users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    create = users_sub.add_parser("create", help="create a user")
    create.add_argument("--login", required=True)
    create.add_argument("--admin", action="store_true", help="an admin (default: a viewer)")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.set_defaults(func=_lazy("users_main"))
    worker = sub.add_parser("worker", help="run a pipeline worker (vad, asr or analysis)")
    worker.add_argument("kind", choices=KINDS)
    worker.add_argument(
        "--api", help="the core's URL: work through its internal routes (another host)"
    )
    worker.add_argument("--name", help="the worker's name in leases (default host:pid:kind)")
    worker.add_argument(
        "--until-idle", action="store_true", help="exit when no job is left (batch runs)"
    )
    worker.set_defaults(func=_lazy("worker_main"))
    demo = sub.add_parser(
        "demo", help="load the synthesized shop day into the database (development)"
    )
    demo.add_argument(
        "--days", type=int, default=7, help="spread it over the last N local days (default 7)"
    )
    demo.add_argument(
        "--if-empty", action="store_true", help="only when the database has no dialogues yet"
    )
    demo.add_argument(
        "--asr", action="store_true", help="transcribe with Whisper instead of the script"
    )
    demo.add_argument(
        "--port", type=int, help="the port the printed URL names (default: SALESCONTROL_PORT)"
    )
    demo.set_defaults(func=_lazy("demo_main"))
    add_recorder_parser(sub)
    add_asr_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "recorder":
        # The agent reports its own errors; it needs none of the server's stack.
        return int(args.func(args))
    from salescontrol.commands import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())

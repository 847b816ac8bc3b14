"""The core server's commands behind `salescontrol` (salescontrol/cli.py parses
the command line and imports this module only for them, so that `salescontrol
recorder` does not load the server's stack).

The `salescontrol` command line:

    salescontrol dev                   the ingest API on an embedded PostgreSQL (development)
    salescontrol serve                 the ingest API on DATABASE_URL (production)
    salescontrol db upgrade            run the migrations on DATABASE_URL
    salescontrol users create --login L [--admin]   a user (the first admin, too)
    salescontrol worker vad|asr|analysis [--api URL]  a pipeline worker
    salescontrol demo [--days N] [--if-empty] [--asr]
                                       demo data for the dashboard: the synthesized
                                       shop day (tests.support.shopday, a development
                                       checkout) over the last N days (default 7) at
                                       two coffee shops, cut by the real VAD, with the
                                       script's transcripts and judgements, reviews,
                                       and the users admin and viewer with new
                                       passwords (printed); again: adds only new days;
                                       --if-empty: only into a database without
                                       dialogues (`make salescontrol`)

Without DATABASE_URL, `db`, `users` and `demo` use the development cluster in data/pg
(the one `salescontrol dev` runs), so the first admin can be created in development.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path

import asyncpg
import uvicorn
from sqlalchemy.exc import DBAPIError

from core.cli import dispatch
from core.http.server import guarded_protocol, raise_fd_limit
from core.paths import DEFAULT_PG_DIR
from core.settings import Settings, SettingsError, load_settings
from salescontrol.accounts import AccountError, add_user
from salescontrol.db.migrate import upgrade
from salescontrol.ingest.probe import ffprobe_path
from salescontrol.pipeline.worker.cli import run_worker


def _url(settings: Settings) -> str:
    """DATABASE_URL, or the development cluster's database (started if needed)."""
    if settings.env.database_url:
        return settings.env.database_url
    try:
        # Only in a development install: production has its own PostgreSQL.
        from salescontrol.db.embedded import development_url
    except ImportError:
        raise SettingsError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed"
        ) from None
    return development_url(DEFAULT_PG_DIR)


def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    if ffprobe_path() is None:
        # Every upload is measured by ffprobe: without it none could be taken.
        raise SettingsError("ffprobe is not installed (Debian: apt install ffmpeg)")
    # Here, so that a bad directory is one line and not uvicorn's traceback.
    Path(settings.env.salescontrol_audio_dir).mkdir(parents=True, exist_ok=True, mode=0o750)
    server = settings.api.server
    uvicorn.run(
        "salescontrol.ingest.app:create_app",
        factory=True,
        host=host or settings.env.salescontrol_host,
        port=port or settings.env.salescontrol_port,
        workers=1,
        log_config=None,
        http=guarded_protocol(server, raise_fd_limit()),
        timeout_keep_alive=server.keep_alive_s,
    )


def serve_main(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.env.database_url:
        raise SettingsError("DATABASE_URL is not set (for development: salescontrol dev)")
    _serve(settings, args.host, args.port)
    return 0


def dev_main(args: argparse.Namespace) -> int:
    settings = load_settings()
    url = _url(settings)
    upgrade(url)
    # The app is built by uvicorn's factory, which reads the environment.
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEV_MODE", "true")
    print(f"SalesControl (development): PostgreSQL in {DEFAULT_PG_DIR}", file=sys.stderr)
    _serve(load_settings(), args.host, args.port)
    return 0


def db_main(args: argparse.Namespace) -> int:
    upgrade(_url(load_settings()))
    print("database schema is up to date")
    return 0


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def users_main(args: argparse.Namespace) -> int:
    url = _url(load_settings())
    role = "admin" if args.admin else "viewer"
    try:
        asyncio.run(add_user(url, args.login, _password(args.password_stdin), role))
    except AccountError as exc:
        print(f"salescontrol users: {exc}", file=sys.stderr)
        return 1
    print(f"user {args.login} created ({role})")
    return 0


def demo_main(args: argparse.Namespace) -> int:
    from salescontrol.demo import DemoUnavailable, describe, has_dialogues, load_demo

    settings = load_settings()
    url = _url(settings)
    upgrade(url)
    if args.if_empty and asyncio.run(has_dialogues(url)):
        print("demo: the database already has dialogues; nothing loaded")
        return 0
    audio_dir = Path(settings.env.salescontrol_audio_dir)
    try:
        report = asyncio.run(load_demo(url, audio_dir, settings, args.days, args.asr))
    except DemoUnavailable as exc:
        print(f"salescontrol demo: {exc}", file=sys.stderr)
        return 2
    print("\n".join(describe(report, args.port or settings.env.salescontrol_port)))
    return 0


def worker_main(args: argparse.Namespace) -> int:
    settings = load_settings()
    return asyncio.run(run_worker(settings, args, lambda: _url(settings)))


def run(args: argparse.Namespace) -> int:
    """Run a server command; configuration, path and database mistakes are one line."""
    try:
        return dispatch("salescontrol", args)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, DBAPIError) as exc:
        # A wrong password or database name in DATABASE_URL: no traceback.
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        print(f"salescontrol {args.command}: database: {reason}", file=sys.stderr)
        return 2

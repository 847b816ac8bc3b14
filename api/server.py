"""`salesbot serve`: run the HTTP API under uvicorn (HOST/PORT from the env) with the
connection limits of `core.http.server`; `--workers N` runs N processes on one port.

Several processes need PostgreSQL: on SQLite the per-customer lock and the
idempotency claims live in one process, so two workers would interleave a
customer's turns and answer a retried request twice.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
from typing import Any

import uvicorn

from api.database import database_url
from core.cli import positive_int
from core.db import prepare_directory
from core.http.server import GuardedHTTP, guarded_protocol, raise_fd_limit
from core.settings import SettingsError, load_settings

PROTOCOL = "api.server:guarded_http"
"""uvicorn's protocol, named by import path: a worker process is spawned with a
pickled config, and the class `guarded_protocol` builds cannot be pickled."""


@functools.cache
def _protocol_class() -> type[GuardedHTTP]:
    return guarded_protocol(load_settings().api.server, raise_fd_limit())


def guarded_http(**kwargs: Any) -> asyncio.Protocol:
    """The protocol for one connection, its limits built once per process (each
    worker raises its own file-descriptor limit)."""
    return _protocol_class()(**kwargs)


def serve_main(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.workers > 1 and database_url(settings) is None:
        # One line on stderr and status 2, as for any configuration mistake.
        raise SettingsError(
            f"salesbot serve --workers {args.workers} needs DATABASE_URL=postgresql://…: "
            "on SQLite the per-customer lock and idempotency are per process"
        )
    # Here rather than in the app's start-up, where uvicorn would print a traceback.
    prepare_directory(settings.env.db_path)
    server = settings.api.server
    _protocol_class()  # the limits (and their warning) before the first connection
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host or settings.env.host,
        port=args.port or settings.env.port,
        workers=args.workers,
        log_config=None,
        http=PROTOCOL,
        timeout_keep_alive=server.keep_alive_s,
        # The client of a request from these proxies is the one their
        # X-Forwarded-For names: what the wrong-key limit counts and logs show.
        proxy_headers=True,
        forwarded_allow_ips=settings.env.forwarded_allow_ips,
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", help="bind address (default: HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: PORT or 8000)")
    p.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="worker processes on this port (default 1; more than 1 needs DATABASE_URL=postgresql://…)",
    )
    p.set_defaults(func=serve_main)

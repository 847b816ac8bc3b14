"""`salesbot serve`: run the HTTP API under uvicorn (one worker, HOST/PORT from the
env) with the connection limits of `core.http.server`."""

from __future__ import annotations

import argparse

import uvicorn

from core.db import prepare_directory
from core.http.server import guarded_protocol, raise_fd_limit
from core.settings import load_settings


def serve_main(args: argparse.Namespace) -> int:
    settings = load_settings()
    # Here rather than in the app's start-up, where uvicorn would print a traceback.
    prepare_directory(settings.env.db_path)
    server = settings.api.server
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host or settings.env.host,
        port=args.port or settings.env.port,
        workers=1,
        log_config=None,
        http=guarded_protocol(server, raise_fd_limit()),
        timeout_keep_alive=server.keep_alive_s,
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", help="bind address (default: HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: PORT or 8000)")
    p.set_defaults(func=serve_main)

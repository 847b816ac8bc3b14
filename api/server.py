"""`salesbot serve`: run the HTTP API under uvicorn (one worker, HOST/PORT from the
env), with limits a slow or idle client cannot get around.

uvicorn closes an idle keep-alive connection after a timeout, but it waits for a
request's headers forever, and it accepts connections until the process runs out
of file descriptors; a thousand clients that open a connection and send half a
request line would then make `/health` fail. So the HTTP protocol here closes a
connection whose headers are not complete within `api.server.header_timeout_s`
and any connection beyond `api.server.max_connections`, and the process raises
its own file-descriptor limit as far as the system lets it. nginx in front adds
its own timeouts (the runbook says which).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.db import prepare_directory
from core.settings import ServerSettings, load_settings

log = logging.getLogger("salesbot.server")

FD_TARGET = 65536
"""The soft file-descriptor limit the service asks for (the unit's LimitNOFILE)."""


class GuardedHTTP(HttpToolsProtocol):
    """uvicorn's HTTP protocol with a deadline for request headers and a cap on
    connections (class attributes, set by `guarded_protocol`)."""

    header_timeout_s = 10.0
    max_connections = 4096

    _headers_due: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.close()  # a file descriptor is worth more than this client
            return
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # the next request on a kept-alive connection

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._headers_due is None:
            self._headers_due = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        if self._headers_due is not None:
            self._headers_due.cancel()
            self._headers_due = None

    def _headers_late(self) -> None:
        self._headers_due = None
        if not self.transport.is_closing():
            self.transport.close()


def raise_fd_limit() -> int:
    """Raise the soft file-descriptor limit towards FD_TARGET (within the hard
    limit); the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = FD_TARGET if hard == resource.RLIM_INFINITY else min(FD_TARGET, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def guarded_protocol(cfg: ServerSettings, fd_limit: int) -> type[GuardedHTTP]:
    """The protocol class for `cfg`, its connection cap kept to three quarters of
    the descriptors: the rest serve the database, the KB and the calls to Ollama."""
    cap = max(16, min(cfg.max_connections, fd_limit * 3 // 4))
    if cap < cfg.max_connections:
        log.warning(
            "connection cap lowered to fit the file-descriptor limit",
            extra={"max_connections": cap, "fd_limit": fd_limit},
        )
    attributes = {"header_timeout_s": cfg.header_timeout_s, "max_connections": cap}
    return type("GuardedHTTP", (GuardedHTTP,), attributes)


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

"""uvicorn with limits a slow or idle client cannot get around (both services run
under it).

uvicorn closes an idle keep-alive connection after a timeout, but it waits for a
request's headers forever, and it accepts connections until the process runs out
of file descriptors; a thousand clients that open a connection and send half a
request line would then make `/health` fail. So the HTTP protocol here closes a
connection whose headers are not complete within `header_timeout_s` and any
connection beyond `max_connections`, and the process raises its own
file-descriptor limit as far as the system lets it. nginx in front adds its own
timeouts.
"""

from __future__ import annotations

import asyncio
import logging
import resource

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.settings import ServerSettings

log = logging.getLogger("http.server")

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

"""A database in transient trouble answered as 503 with Retry-After, on every
route, rather than 500: another process holding the SQLite file past the busy
timeout (a backup, a sqlite3 shell), or a PostgreSQL server out of reach or of
free connections. The client retries; on /process the checkpoint tells the
retry what was done (api.delivery)."""

from __future__ import annotations

import sqlite3

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core import postgres
from core.http import error_response, log_unexpected, retry_after
from core.logs import bind

RETRY_BUSY_S = 2
"""Seconds a client is told to wait before it retries."""

_MESSAGES = {
    "database busy": "The database is busy, retry later",
    "database unavailable": "The database is unavailable, retry later",
}


def database_trouble(exc: BaseException) -> str | None:
    """Why `exc` is the database's transient trouble, or None when it is not."""
    if isinstance(exc, sqlite3.OperationalError):
        reason = str(exc).lower()
        return "database busy" if "locked" in reason or "busy" in reason else None
    return "database unavailable" if postgres.is_unavailable(exc) else None


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    reason = database_trouble(exc)
    if reason is None:
        # Any other error of these kinds is a bug, answered as any unhandled one.
        log_unexpected(exc)
        return error_response(500, "Internal error")
    bind(reason=reason, error_type=type(exc).__name__)  # on the response's log line
    return error_response(503, _MESSAGES[reason], retry_after(RETRY_BUSY_S))


def install_unavailable_handlers(app: FastAPI) -> None:
    kinds: tuple[type[Exception], ...] = (sqlite3.OperationalError, *postgres.unavailable_errors())
    for kind in kinds:
        app.add_exception_handler(kind, _answer)

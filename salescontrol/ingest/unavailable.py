"""Transient trouble answered as 503 with Retry-After, not 500: the database down
or restarting, its connection pool exhausted, the audio disk full. A recorder
keeps the chunk and retries; nothing was half stored (chunks.py undoes its
writes before the error gets here)."""

from __future__ import annotations

import errno
import logging

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.http import error_response, log_unexpected, retry_after

log = logging.getLogger("salescontrol.ingest")

RETRY_S = 5
_CONNECTION_ERRORS = (
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
)


def _reason(exc: Exception) -> str | None:
    """Why `exc` is transient, or None when it is a bug."""
    if isinstance(exc, PoolTimeout):
        return "database connections exhausted"
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc.orig, _CONNECTION_ERRORS):
            return "database connection lost"
        return None
    if isinstance(exc, _CONNECTION_ERRORS):
        return "database unreachable"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "audio disk full"
    return None


def install_unavailable_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        reason = _reason(exc)
        if reason is None:
            log_unexpected(exc)
            return error_response(500, "Internal error")
        log.warning("unavailable", extra={"status": 503, "reason": reason})
        return error_response(
            503, f"Temporarily unavailable ({reason}), retry later", retry_after(RETRY_S)
        )

    for kind in (PoolTimeout, DBAPIError, OSError, *_CONNECTION_ERRORS):
        app.add_exception_handler(kind, handle)

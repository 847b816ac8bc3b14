"""What every FastAPI service here starts from: its documents (/docs, /redoc,
/openapi.json) only in development, and the middleware stack in its one order."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from prometheus_client import Counter

from core.http.middleware import (
    MAX_BODY_BYTES,
    BodySizeLimit,
    CatchAll,
    CountErrors,
    LogContext,
    LogErrors,
)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def new_app(
    *, title: str, version: str, description: str, lifespan: Lifespan, docs: bool
) -> FastAPI:
    """The app; `docs` (DEV_MODE) publishes its documents: a production service
    does not show its surface to whoever asks."""
    return FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )


def install_middleware(
    app: FastAPI, errors: Counter, body_limit: int = MAX_BODY_BYTES, *, log_errors: bool = False
) -> None:
    """Outermost first: the request's log context, with `log_errors` a log line
    per error response (LogErrors), the error count (of whatever answered), the
    body limit, and the last-resort 500 next to the routes."""
    # Starlette wraps in reverse order of adding.
    app.add_middleware(CatchAll)
    app.add_middleware(BodySizeLimit, limit=body_limit)
    app.add_middleware(CountErrors, counter=errors)
    if log_errors:
        app.add_middleware(LogErrors, templates=lambda: app.openapi()["paths"])
    app.add_middleware(LogContext)

"""The FastAPI application: its factory (`create_app`, uvicorn's entry) and its
lifespan, which builds everything heavy once — the KB, the LLM client, the
database (SQLite or PostgreSQL) — and hands it to the routes as `app.state.runtime`,
and runs the housekeeping of the stored answers while the service runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from api import metrics
from api.database import open_database
from api.deps import refused_before_validation
from api.kb_reload import install_reload_signal, remove_reload_signal
from api.routes import api_router, ops_router
from api.runtime import Runtime
from api.store import Store
from api.unavailable import install_unavailable_handlers
from core.concurrency import SlidingWindowLimiter
from core.http import Lifespan, install_error_handlers, install_middleware, new_app
from core.logs import configure_logging
from core.settings import Settings, SettingsError, load_settings
from graph.context import build_services
from kb import KBHolder

log = logging.getLogger("salesbot.api")


def resolve_api_key(settings: Settings) -> str:
    """The configured key; a one-off random key in development mode; else refuse."""
    key = settings.env.api_key.strip()
    if key:
        return key
    if settings.env.dev_mode:
        key = secrets.token_urlsafe(24)
        # Printed for the developer at the terminal, never written to the logs.
        sys.stderr.write(f"DEV_MODE: API_KEY is not set; this run accepts: Bearer {key}\n")
        return key
    raise SettingsError(
        "API_KEY is empty: set it in the environment (see deploy/crm-sales-bot.env.example), "
        "or set DEV_MODE=true for a one-off development key"
    )


PURGE_EVERY_S = 3600.0


def purge_interval(ttl_s: float) -> float:
    """How often expired answers are deleted: hourly, or four times per TTL when
    that is shorter, so an answer outlives its TTL by at most an hour or a quarter."""
    return min(PURGE_EVERY_S, ttl_s / 4)


async def purge_expired_answers(store: Store, ttl_s: float, interval_s: float) -> None:
    """Delete the stored answers older than `ttl_s` every `interval_s`, until
    cancelled: each holds an answer's whole text, which must not outlive its use
    for retries however long the process runs."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            removed = await store.purge_expired(ttl_s)
        except Exception as exc:
            # A busy or unreachable database: the next round deletes them.
            log.warning("purge failed", extra={"error_type": type(exc).__name__})
            continue
        if removed:
            log.info("expired answers purged", extra={"removed": removed})


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _lifespan(settings: Settings, api_key: str) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        env = settings.env
        async with AsyncExitStack() as stack:
            database = await stack.enter_async_context(open_database(settings))
            ttl_s = settings.api.idempotency_ttl_s
            await database.store.purge_expired(ttl_s)
            purger = asyncio.create_task(
                purge_expired_answers(database.store, ttl_s, purge_interval(ttl_s)),
                name="purge-expired-answers",
            )
            # Stopped before the database closes (the stack unwinds in reverse).
            stack.push_async_callback(_stop, purger)
            kb = KBHolder(settings.kb, dense=settings.flags.dense_retrieval)
            services = build_services(settings, kb=kb)
            # Stop a background dense build at shutdown (it is a daemon thread).
            stack.callback(kb.close)
            install_reload_signal(kb)
            stack.callback(remove_reload_signal)
            limits = settings.api.rate_limit
            app.state.runtime = Runtime(
                settings=settings,
                services=services,
                database=database,
                kb=kb,
                api_key=api_key,
                key_limiter=SlidingWindowLimiter(limits.per_key_per_minute),
                customer_limiter=SlidingWindowLimiter(limits.per_customer_per_minute),
                auth_failures=SlidingWindowLimiter(limits.failed_auth_per_minute),
            )
            # Generated (~20 ms) before the first request rather than at the first
            # error, whose log line names its route by these paths (LogErrors).
            app.openapi()
            log.info(
                "started",
                extra={
                    "model": settings.llm.model,
                    "kb_sections": len(services.kb.current.sections),
                    "db": env.db_path if database.backend == "sqlite" else database.backend,
                },
            )
            yield
            log.info("stopping")

    return lifespan


def create_app(settings: Settings | None = None, *, api_key: str | None = None) -> FastAPI:
    """The service (uvicorn's factory). `api_key` replaces API_KEY's resolution,
    for an app built only to describe itself (`salesbot openapi`)."""
    settings = settings or load_settings()
    configure_logging(settings.env.log_level)
    api_key = api_key or resolve_api_key(settings)
    # Documents only in development; `salesbot openapi` prints the schema.
    app = new_app(
        title="Wipon sales bot",
        version="0.1.0",
        description="One customer message in, one grounded Russian sales answer out.",
        lifespan=_lifespan(settings, api_key),
        docs=settings.env.dev_mode,
    )
    install_error_handlers(app, refuse=refused_before_validation)
    install_unavailable_handlers(app)
    app.include_router(api_router)
    app.include_router(ops_router)
    install_middleware(app, metrics.ERRORS, log_errors=True)
    return app

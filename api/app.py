"""The FastAPI application: start-up (settings, KB, LLM client, SQLite), error
handling, request-size limit, and the routers.

`create_app()` is the uvicorn factory. Everything heavy is built in the
lifespan, once, and reaches the routes through `app.state.runtime`.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.concurrency import KeyedLocks, SlidingWindowLimiter
from api.deps import Runtime
from api.errors import error_response, install_error_handlers, log_unexpected
from api.kb_reload import install_reload_signal, remove_reload_signal
from api.logs import configure_logging
from api.routes import router
from api.store import open_store
from graph.builder import compile_graph
from graph.context import build_services
from graph.memory import open_checkpointer
from graph.settings import Settings, SettingsError, load_settings
from kb import KBHolder

log = logging.getLogger("salesbot.api")

MAX_BODY_BYTES = 1024 * 1024


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


class BodySizeLimit:
    """413 for bodies over the limit, whether declared (Content-Length) or streamed.

    A chunked body is read here, up to the limit, and replayed to the app: the
    limit is checked before any parsing, and a body within it costs one copy.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_response(413, "Request body is larger than 1 MB")
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                await too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


class CatchAll:
    """Answers 500 INTERNAL for any unhandled exception and does not re-raise it:
    the server's own error log would print the exception message, which may
    quote customer text."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log_unexpected(exc)
            if not started:
                await error_response(500, "Internal error")(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.env.log_level)
    api_key = resolve_api_key(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        env = settings.env
        timeout_s, busy_ms = env.sqlite_timeout_seconds, env.sqlite_busy_timeout_ms
        async with AsyncExitStack() as stack:
            graphs = []
            for _ in range(settings.api.memory_connections):
                saver = await stack.enter_async_context(
                    open_checkpointer(env.db_path, timeout_s=timeout_s, busy_timeout_ms=busy_ms)
                )
                graphs.append(compile_graph(saver))
            store = await stack.enter_async_context(
                open_store(env.db_path, timeout_s=timeout_s, busy_timeout_ms=busy_ms)
            )
            await store.purge_expired(settings.api.idempotency_ttl_s)
            kb = KBHolder(settings.kb, dense=settings.flags.dense_retrieval)
            services = build_services(settings, kb=kb)
            install_reload_signal(kb)
            stack.callback(remove_reload_signal)
            limits = settings.api.rate_limit
            app.state.runtime = Runtime(
                settings=settings,
                services=services,
                graphs=graphs,
                store=store,
                kb=kb,
                api_key=api_key,
                locks=KeyedLocks(),
                key_limiter=SlidingWindowLimiter(limits.per_key_per_minute),
                customer_limiter=SlidingWindowLimiter(limits.per_customer_per_minute),
            )
            log.info(
                "started",
                extra={
                    "model": settings.llm.model,
                    "kb_sections": len(services.kb.current.sections),
                    "db": env.db_path,
                },
            )
            yield
            log.info("stopping")

    app = FastAPI(
        title="Wipon sales bot",
        version="0.1.0",
        description="One customer message in, one grounded Russian sales answer out.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(router)
    app.add_middleware(CatchAll)
    app.add_middleware(BodySizeLimit)
    return app

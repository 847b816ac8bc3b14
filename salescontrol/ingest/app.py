"""The ingest API: its factory (`create_app`, uvicorn's entry) and its lifespan,
which opens the database, prepares the audio directory and settles what a crash
left half done before the first upload is taken."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from core.concurrency import SlidingWindowLimiter
from core.http import Lifespan, install_error_handlers, install_middleware, new_app
from core.logs import configure_logging
from core.settings import Settings, SettingsError, load_settings
from salescontrol.dashboard.web import install_dashboard
from salescontrol.db.engine import make_engine, session_factory
from salescontrol.ingest import metrics
from salescontrol.ingest.chunks import Chunks
from salescontrol.ingest.housekeeping import close_idle_forever
from salescontrol.ingest.retention import purge_forever
from salescontrol.ingest.routes import api_router, internal_router, ops_router
from salescontrol.ingest.runtime import Runtime
from salescontrol.ingest.storage import AudioStore
from salescontrol.ingest.unavailable import install_unavailable_handlers

log = logging.getLogger("salescontrol.ingest")

# Room for the request line and headers beside the largest chunk.
HEADROOM_BYTES = 64 * 1024

OWNER_POOL_SIZE = 5
"""Connections that hold uploads' ownership of their chunks (Chunks.owners), and
as many again on overflow; more uploads at once wait for one."""


def database_url(settings: Settings) -> str:
    url = settings.env.database_url
    if not url:
        raise SettingsError(
            "DATABASE_URL is not set: point it at SalesControl's PostgreSQL "
            "(`make salescontrol` starts an embedded one for development)"
        )
    return url


def _lifespan(settings: Settings, url: str) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(url)
        owners = make_engine(url, pool_size=OWNER_POOL_SIZE)
        sessions = session_factory(engine)
        store = AudioStore(Path(settings.env.salescontrol_audio_dir))
        cleared = store.prepare()
        sc = settings.salescontrol
        chunks = Chunks(sessions, session_factory(owners), store, sc.ingest, sc.jobs)
        settled = await chunks.settle_all()
        app.state.runtime = Runtime(
            settings=settings,
            engine=engine,
            sessions=sessions,
            store=store,
            chunks=chunks,
            logins_by_address=SlidingWindowLimiter(sc.auth.logins_per_minute),
            logins_by_name=SlidingWindowLimiter(sc.auth.logins_per_minute),
        )
        log.info(
            "started",
            extra={"audio_dir": str(store.root), "incoming_cleared": cleared, "settled": settled},
        )
        housekeeping = [
            asyncio.create_task(close_idle_forever(sessions, sc)),
            asyncio.create_task(purge_forever(sessions, store, sc)),
        ]
        try:
            yield
        finally:
            for task in housekeeping:
                task.cancel()
            await asyncio.gather(*housekeeping, return_exceptions=True)
            await owners.dispose()
            await engine.dispose()
            log.info("stopping")

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.env.log_level)
    url = database_url(settings)
    app = new_app(
        title="SalesControl ingest API",
        version="0.1.0",
        description="Recorders upload audio chunks; admins manage points, devices and users.",
        lifespan=_lifespan(settings, url),
        docs=settings.env.dev_mode,
    )
    install_error_handlers(app)
    install_unavailable_handlers(app)
    app.include_router(api_router)
    app.include_router(internal_router)
    app.include_router(ops_router)
    install_dashboard(app)
    install_middleware(
        app,
        metrics.ERRORS,
        body_limit=settings.salescontrol.ingest.max_chunk_bytes + HEADROOM_BYTES,
    )
    return app

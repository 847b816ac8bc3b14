"""`salescontrol worker vad|asr|analysis [--api URL]`: one worker process.

Without `--api` it works on the core server's database (DATABASE_URL) and audio
directory; with `--api https://core.example` it works from another host through
the internal routes, with SALESCONTROL_INTERNAL_TOKEN, and never touches the
database. Run as many of each kind as the machine allows.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

from core.logs import configure_logging
from core.settings import Settings
from salescontrol.db.engine import make_engine, session_factory
from salescontrol.pipeline.worker.backend import Backend, LocalBackend
from salescontrol.pipeline.worker.handlers import handler_for
from salescontrol.pipeline.worker.loop import Worker
from salescontrol.pipeline.worker.remote import RemoteBackend


def _backend(settings: Settings, api: str | None, database_url: Callable[[], str]) -> Backend:
    if api:
        return RemoteBackend(api, settings.env.salescontrol_internal_token)
    engine = make_engine(database_url(), pool_size=2)
    return LocalBackend(
        engine,
        session_factory(engine),
        Path(settings.env.salescontrol_audio_dir),
        settings.salescontrol,
    )


async def run_worker(
    settings: Settings, args: argparse.Namespace, database_url: Callable[[], str]
) -> int:
    configure_logging(settings.env.log_level)
    backend = _backend(settings, args.api, database_url)
    try:
        worker = Worker(
            args.kind,
            backend,
            handler_for(args.kind, backend, settings),
            settings.salescontrol,
            args.name,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop, until_idle=args.until_idle)
    finally:
        await backend.aclose()
    return 0

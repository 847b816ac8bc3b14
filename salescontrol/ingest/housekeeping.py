"""What the core server does on its own, periodically: close the open dialogues of
recorders that went silent mid-dialogue (switched off, cable pulled), so that they
are transcribed too. It runs here because the core is the one process that is
always up and has the database, whatever hosts the workers are on."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import SalesControlSettings
from salescontrol.pipeline.dialogues import close_idle

log = logging.getLogger("salescontrol.ingest")


async def close_idle_forever(
    sessions: async_sessionmaker[AsyncSession], sc: SalesControlSettings
) -> None:
    interval = max(5.0, min(60.0, sc.speech.dialogues.idle_close_s / 5))
    while True:
        await asyncio.sleep(interval)
        try:
            async with sessions() as session:
                closed = await close_idle(session, sc.speech.dialogues, sc.jobs, datetime.now(UTC))
        except Exception as exc:  # the database restarting: next round
            log.warning("idle dialogues not checked", extra={"error_type": type(exc).__name__})
            continue
        if closed:
            log.info("idle dialogues closed", extra={"count": closed})

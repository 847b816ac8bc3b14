"""The retention period of recordings: chunks older than `retention.audio_days` are
deleted from disk and marked `purged_at`; their dialogues, transcripts and analyses
stay, so the figures of the past do not change.

Only chunks the pipeline is done with (processed, or failed for good) are purged.
The file goes first and the mark second: a crash in between leaves an unmarked row
whose file is gone, and the next round marks it — never a marked row whose file
still holds a customer's voice. The same round deletes the dashboard's cached cuts
of dialogues older than a day, so that no cut outlives its chunks for long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import SalesControlSettings
from salescontrol.dashboard.audio import prune_cuts
from salescontrol.db.models import AudioChunk
from salescontrol.ingest.storage import AudioStore

log = logging.getLogger("salescontrol.ingest")

BATCH = 500


async def purge_expired(
    sessions: async_sessionmaker[AsyncSession],
    store: AudioStore,
    audio_days: int,
    now: datetime,
) -> int:
    """Delete the recordings that ended more than `audio_days` before `now`; how many."""
    cutoff = now - timedelta(days=audio_days)
    purged = 0
    while True:
        async with sessions() as db:
            rows = (
                await db.execute(
                    select(AudioChunk.id, AudioChunk.path)
                    .where(
                        AudioChunk.ended_at < cutoff,
                        AudioChunk.purged_at.is_(None),
                        AudioChunk.state.in_(("processed", "failed")),
                    )
                    .order_by(AudioChunk.ended_at)
                    .limit(BATCH)
                )
            ).all()
            if not rows:
                return purged
            for row in rows:
                await asyncio.to_thread(store.absolute(row.path).unlink, missing_ok=True)
            await db.execute(
                update(AudioChunk)
                .where(AudioChunk.id.in_([row.id for row in rows]))
                .values(purged_at=now)
            )
            await db.commit()
            purged += len(rows)


async def purge_forever(
    sessions: async_sessionmaker[AsyncSession], store: AudioStore, sc: SalesControlSettings
) -> None:
    days = sc.retention.audio_days
    if days is None:
        return
    while True:
        await asyncio.to_thread(prune_cuts, store.root, time.time())
        try:
            purged = await purge_expired(sessions, store, days, datetime.now(UTC))
        except Exception as exc:  # the database restarting: next round
            log.warning("old recordings not purged", extra={"error_type": type(exc).__name__})
        else:
            if purged:
                log.info("old recordings purged", extra={"count": purged, "days": days})
        await asyncio.sleep(sc.retention.check_every_s)

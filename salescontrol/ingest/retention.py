"""The retention period of recordings: chunks older than `retention.audio_days` are
deleted from disk and marked `purged_at`; their dialogues, transcripts and analyses
stay, so the figures of the past do not change.

Only chunks the pipeline is done with (processed, or failed for good) are purged.
The file goes first and the mark second: a crash in between leaves an unmarked row
whose file is gone, and the next round marks it — never a marked row whose file
still holds a customer's voice. With the chunks go the dashboard's cached cuts of
the dialogues on their devices and times (a cut is a copy of the chunks' voice);
the same round also deletes any cut older than a day.

A backup (deploy/salescontrol/backup.sh) holds the advisory lock PURGE_LOCK, shared,
from before its database dump until its copy of the audio is made. Each purge batch
tries the lock exclusively for its transaction: while a backup holds it the round
stops (the next round goes on), and a backup that comes during a batch waits for
the batch's commit. So every file the dump's snapshot expects is in the copy, and
every chunk whose file the purge deleted is marked in the snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import SalesControlSettings
from salescontrol.dashboard.audio import MAX_SPAN_S, drop_cuts, prune_cuts
from salescontrol.db.models import AudioChunk, Dialogue
from salescontrol.ingest.storage import AudioStore

log = logging.getLogger("salescontrol.ingest")

BATCH = 500
PURGE_LOCK = 0x73633A7075726765
"""The advisory lock key (ASCII "sc:purge") that backup.sh holds while it copies;
backup.sh spells the same number."""


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
            # Held until this batch commits (or its session ends).
            if not await db.scalar(select(func.pg_try_advisory_xact_lock(PURGE_LOCK))):
                log.info("old recordings' purge put off: a backup holds its lock")
                return purged
            rows = (
                await db.execute(
                    select(
                        AudioChunk.id,
                        AudioChunk.path,
                        AudioChunk.device_id,
                        AudioChunk.started_at,
                        AudioChunk.ended_at,
                    )
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
            spans = [(row.device_id, row.started_at, row.ended_at) for row in rows]
            dialogues = await db.scalars(select(Dialogue.id).where(overlapping(spans)))
            await asyncio.to_thread(drop_cuts, store.root, list(dialogues))
            await db.execute(
                update(AudioChunk)
                .where(AudioChunk.id.in_([row.id for row in rows]))
                .values(purged_at=now)
            )
            await db.commit()
            purged += len(rows)


def overlapping(chunks: Iterable[tuple[uuid.UUID, datetime, datetime]]) -> ColumnElement[bool]:
    """Dialogues that may hold these chunks' audio: per device, those overlapping the
    span from its first chunk's start to its last chunk's end (a purge round takes
    the oldest chunks, so the span is mostly contiguous; a cut deleted in excess is
    only made again when someone plays it)."""
    spans: dict[uuid.UUID, tuple[datetime, datetime]] = {}
    for device, started_at, ended_at in chunks:
        first, last = spans.get(device, (started_at, ended_at))
        spans[device] = (min(first, started_at), max(last, ended_at))
    return or_(
        *(
            and_(
                Dialogue.device_id == device,
                Dialogue.started_at < end,
                Dialogue.ended_at > start,
                # A cut covers at most MAX_SPAN_S from its dialogue's start; the
                # bound keeps the index scan to the span's neighbourhood.
                Dialogue.started_at > start - timedelta(seconds=MAX_SPAN_S),
            )
            for device, (start, end) in spans.items()
        )
    )


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

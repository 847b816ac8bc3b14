"""The retention period: recordings older than `retention.audio_days` leave the disk,
with the dashboard's cached cuts of their dialogues; their rows (and dialogues)
stay; younger ones and ones still in the pipeline stay; nothing goes while a
backup holds the purge's lock."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import select, update

from salescontrol.dashboard.audio import CACHE_DIR, CACHE_MAX_AGE_S, prune_cuts
from salescontrol.db.models import AudioChunk, Device, Dialogue, Register
from salescontrol.ingest.retention import PURGE_LOCK, purge_expired
from tests.salescontrol.audio import AudioFactory
from tests.salescontrol.ingest.service import Ingest


async def test_only_old_processed_recordings_are_deleted_and_marked_once(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await ingest.device()
    now = datetime.now(UTC).replace(microsecond=0)
    starts = {
        "old": now - timedelta(days=91),
        "old_in_pipeline": now - timedelta(days=91, minutes=5),
        "young": now - timedelta(days=89),
    }
    ids = {}
    for name, start in starts.items():
        ids[name] = uuid.uuid4()
        response = await device.upload(ids[name], start, audio.opus())
        assert response.status_code == 201, response.text
    runtime = ingest.runtime
    async with runtime.sessions() as db:
        # The pipeline is done with two of them; the third still waits for its VAD.
        await db.execute(
            update(AudioChunk)
            .where(AudioChunk.client_id.in_([ids["old"], ids["young"]]))
            .values(state="processed")
        )
        await db.commit()
        paths = {
            row.client_id: runtime.store.absolute(row.path)
            for row in await db.scalars(select(AudioChunk))
        }
    assert all(path.exists() for path in paths.values())

    assert await purge_expired(runtime.sessions, runtime.store, 90, now) == 1
    assert await purge_expired(runtime.sessions, runtime.store, 90, now) == 0

    assert not paths[ids["old"]].exists()
    assert paths[ids["old_in_pipeline"]].exists()
    assert paths[ids["young"]].exists()
    async with runtime.sessions() as db:
        rows = {row.client_id: row for row in await db.scalars(select(AudioChunk))}
    assert rows[ids["old"]].purged_at == now
    assert rows[ids["old_in_pipeline"]].purged_at is None
    assert rows[ids["young"]].purged_at is None


async def old_processed_chunk(ingest: Ingest, audio: AudioFactory, now: datetime) -> Path:
    """A chunk 100 days before `now` that the pipeline is done with; its file."""
    device = await ingest.device()
    chunk_id = uuid.uuid4()
    assert (
        await device.upload(chunk_id, now - timedelta(days=100), audio.opus())
    ).status_code == 201
    runtime = ingest.runtime
    async with runtime.sessions() as db:
        row = await db.scalar(select(AudioChunk).where(AudioChunk.client_id == chunk_id))
        assert row is not None
        row.state = "processed"
        await db.commit()
        return runtime.store.absolute(row.path)


async def test_a_file_already_gone_is_marked_all_the_same(
    ingest: Ingest, audio: AudioFactory
) -> None:
    """A crash between deleting the file and marking the row: the next round marks it."""
    now = datetime.now(UTC)
    (await old_processed_chunk(ingest, audio, now)).unlink()

    runtime = ingest.runtime
    assert await purge_expired(runtime.sessions, runtime.store, 90, now) == 1
    async with runtime.sessions() as db:
        assert await db.scalar(select(AudioChunk.purged_at)) == now


async def test_nothing_is_purged_while_a_backup_holds_the_lock(
    ingest: Ingest, audio: AudioFactory, database_url: str
) -> None:
    """backup.sh holds PURGE_LOCK, shared, from its database dump until its copy of
    the audio is made (tests/salescontrol/deploy/test_backup.py runs the script)."""
    now = datetime.now(UTC)
    path = await old_processed_chunk(ingest, audio, now)

    runtime = ingest.runtime
    backup = await asyncpg.connect(database_url)
    try:
        await backup.execute("SELECT pg_advisory_lock_shared($1)", PURGE_LOCK)
        assert await purge_expired(runtime.sessions, runtime.store, 90, now) == 0
        assert path.exists()
    finally:
        await backup.close()
    assert await purge_expired(runtime.sessions, runtime.store, 90, now) == 1
    assert not path.exists()


async def test_the_cached_cuts_of_purged_chunks_dialogues_go_with_them(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await ingest.device()
    now = datetime.now(UTC).replace(microsecond=0)
    old_start, young_start = now - timedelta(days=91), now - timedelta(days=89)
    for start in (old_start, young_start):
        assert (await device.upload(uuid.uuid4(), start, audio.opus())).status_code == 201
    runtime = ingest.runtime
    async with runtime.sessions() as db, db.begin():
        await db.execute(update(AudioChunk).values(state="processed"))
        row = await db.get(Device, uuid.UUID(device.id))
        assert row is not None
        register = await db.get(Register, row.register_id)
        assert register is not None
        dialogues = {}
        for name, start in (("old", old_start), ("young", young_start)):
            dialogue = Dialogue(
                device_id=row.id,
                register_id=register.id,
                point_id=register.point_id,
                started_at=start + timedelta(seconds=1),
                ended_at=start + timedelta(seconds=3),
                state="closed",
                closed_reason="silence",
                closed_at=start + timedelta(seconds=15),
            )
            db.add(dialogue)
            await db.flush()
            dialogues[name] = dialogue.id
    cuts = runtime.store.root / CACHE_DIR
    cuts.mkdir(parents=True)
    # Fresh files, so only the purge can remove them (not the age limit).
    cached = {name: cuts / f"{id_}-digest.ogg" for name, id_ in dialogues.items()}
    for path in cached.values():
        path.write_bytes(b"OggS")

    assert await purge_expired(runtime.sessions, runtime.store, 90, now) == 1

    assert not cached["old"].exists()
    assert cached["young"].exists()


def test_cached_cuts_older_than_a_day_are_deleted(tmp_path: Path) -> None:
    cuts = tmp_path / CACHE_DIR
    cuts.mkdir(parents=True)
    old, fresh = cuts / f"{uuid.uuid4()}-a.ogg", cuts / f"{uuid.uuid4()}-b.ogg"
    for path in (old, fresh):
        path.write_bytes(b"OggS")
    now = time.time()
    os.utime(old, (now - CACHE_MAX_AGE_S - 60, now - CACHE_MAX_AGE_S - 60))

    assert prune_cuts(tmp_path, now) == 1
    assert not old.exists() and fresh.exists()
    assert prune_cuts(tmp_path / "nothing-here", now) == 0

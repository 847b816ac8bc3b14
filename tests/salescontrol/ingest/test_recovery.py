"""What a crash of the ingest API can leave, settled when it starts again: a body
half received (deleted), a chunk whose row is committed but not finished (stored
with its job when its file is in place, else removed so the device's retry stores
it). The real thing — SIGKILL during uploads — is in test_crash.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import delete, func, select, update

from core.settings import Settings
from salescontrol.db.models import AudioChunk, Job
from tests.salescontrol.audio import AudioFactory
from tests.salescontrol.ingest.service import Device, Ingest, serve
from tests.support.errors import assert_error

START = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)


async def left_receiving(ingest: Ingest, chunk_id: uuid.UUID, keep_file: bool) -> None:
    """Put a stored chunk back where a crash between its two commits leaves it."""
    async with ingest.runtime.sessions() as db, db.begin():
        row = await db.scalar(select(AudioChunk).where(AudioChunk.client_id == chunk_id))
        assert row is not None
        await db.execute(delete(Job).where(Job.subject_id == row.id))
        await db.execute(
            update(AudioChunk).where(AudioChunk.id == row.id).values(state="receiving")
        )
    if not keep_file:
        (ingest.audio_dir / row.path).unlink()


async def test_a_restart_settles_what_a_crash_left(settings: Settings, audio: AudioFactory) -> None:
    kept, lost = uuid.uuid4(), uuid.uuid4()
    async with serve(settings) as ingest:
        device = await ingest.device()
        for i, chunk in enumerate((kept, lost)):
            started = START + timedelta(minutes=i)
            assert (await device.upload(chunk, started, audio.opus())).status_code == 201
        await left_receiving(ingest, kept, keep_file=True)
        await left_receiving(ingest, lost, keep_file=False)
        (ingest.audio_dir / ".incoming" / "half.part").write_bytes(b"OggS half")
        token = device.token

    async with serve(settings) as ingest:
        async with ingest.runtime.sessions() as db:
            chunks = {c.client_id: c for c in await db.scalars(select(AudioChunk))}
            queued = set(await db.scalars(select(Job.subject_id)))
        assert set(chunks) == {kept}
        assert chunks[kept].state == "stored" and queued == {chunks[kept].id}
        assert list((ingest.audio_dir / ".incoming").iterdir()) == []
        # The device never got an answer for the lost one and sends it again.
        device = Device(ingest.http, "", token)
        again = await device.upload(lost, START + timedelta(minutes=1), audio.opus())
        assert again.status_code == 201
        repeat = await device.upload(kept, START, audio.opus())
        assert repeat.status_code == 200


async def test_a_retry_settles_its_own_unfinished_chunk(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await ingest.device()
    chunk = uuid.uuid4()
    assert (await device.upload(chunk, START, audio.opus())).status_code == 201
    await left_receiving(ingest, chunk, keep_file=True)

    repeat = await device.upload(chunk, START, audio.opus())

    assert repeat.status_code == 200
    async with ingest.runtime.sessions() as db:
        [row] = list(await db.scalars(select(AudioChunk)))
        assert row.state == "stored"
        assert list(await db.scalars(select(Job.subject_id))) == [row.id]


async def test_a_chunk_another_process_is_storing_is_left_to_it(
    ingest: Ingest, audio: AudioFactory
) -> None:
    """A `receiving` row whose upload is live elsewhere (another ingest process,
    holding the chunk's identity) is neither settled by a start nor taken for a
    crash's leftover by an upload: those are told to retry (503), not refused."""
    device = await ingest.device()
    chunk = uuid.uuid4()
    assert (await device.upload(chunk, START, audio.opus(hz=440))).status_code == 201
    await left_receiving(ingest, chunk, keep_file=True)
    chunks = ingest.runtime.chunks

    async with chunks._owned(uuid.UUID(device.id), chunk, START) as owned:
        assert owned
        assert await chunks.settle_all() == 0
        # The same instant written in another offset is the same start.
        almaty = START.astimezone(timezone(timedelta(hours=5)))
        for other, start in ((uuid.uuid4(), almaty), (chunk, START)):
            busy = await device.upload(other, start, audio.opus(hz=880))
            assert_error(busy, 503, "SERVICE_UNAVAILABLE")
            assert int(busy.headers["Retry-After"]) >= 1
        async with ingest.runtime.sessions() as db:
            [row] = list(await db.scalars(select(AudioChunk)))
            assert await db.scalar(select(func.count()).select_from(Job)) == 0
        assert row.state == "receiving" and (ingest.audio_dir / row.path).is_file()

    # That process died with its file in place: the next upload finishes its chunk.
    late = await device.upload(uuid.uuid4(), START, audio.opus(hz=880))
    assert_error(late, 409, "CONFLICT")
    async with ingest.runtime.sessions() as db:
        [row] = list(await db.scalars(select(AudioChunk)))
        assert row.state == "stored"
        assert list(await db.scalars(select(Job.subject_id))) == [row.id]

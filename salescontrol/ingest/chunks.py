"""Accepting an audio chunk: each one stored once, and never half.

The device's chunk id is the idempotency key (with the chunk's start): a repeat of
an upload whose answer was lost gets the first answer (200), the same id with
other bytes or another chunk at the same start is a 409.

Order of the writes, so that a crash at any point leaves nothing half done:
1. the body goes to a file in `.incoming/`, fsynced (storage.AudioStore);
2. a row is committed in state `receiving`;
3. the file is renamed into its place;
4. the row becomes `stored` together with the chunk's job, in one transaction.
A crash before 2 leaves a file in `.incoming/` (deleted at start); between 2 and 4
a `receiving` row, which `settle` completes when its file is in place and deletes
otherwise. A failure during the request undoes the same way at once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.http import APIError
from core.settings import IngestSettings, JobSettings
from salescontrol import jobs
from salescontrol.db.models import AudioChunk, Device
from salescontrol.ingest.probe import AudioInfo, NotAudio, probe
from salescontrol.ingest.schemas import ChunkOut
from salescontrol.ingest.storage import AudioStore, Received, TooLarge

VAD = "vad"
"""The job every stored chunk gets: finding its speech (part 2's VAD worker)."""
DURATION_SLACK_S = 1.5
"""How far past `ingest.max_chunk_s` a chunk's probed length may go. ffprobe's
duration of an Ogg Opus file includes the encoder's pre-skip (a 300 s chunk reads
300.0065 s), and the recorder's cut may come on audio from up to a second before
the clock's boundary when ffmpeg has fallen behind (salescontrol/recorder/segments.py):
neither may make a chunk of the configured length a final 400."""


@dataclass(frozen=True, slots=True)
class Accepted:
    chunk: ChunkOut
    created: bool
    """False: a repeat of an upload that is already stored."""


def chunk_out(row: AudioChunk) -> ChunkOut:
    return ChunkOut(
        chunk_id=row.client_id,
        started_at=row.started_at,
        ended_at=row.ended_at,
        duration_s=row.duration_s,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
    )


class Chunks:
    """The chunks of the database and the audio store, kept in agreement."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: AudioStore,
        ingest: IngestSettings,
        job_settings: JobSettings,
    ):
        self.sessions = sessions
        self.store = store
        self.ingest = ingest
        self.job_settings = job_settings

    async def accept(
        self,
        device: Device,
        client_id: uuid.UUID,
        started_at: datetime,
        claimed_sha256: str | None,
        body: AsyncIterator[bytes],
    ) -> Accepted:
        try:
            received = await self.store.receive(body, self.ingest.max_chunk_bytes)
        except TooLarge:
            raise APIError(
                413, f"A chunk may have at most {self.ingest.max_chunk_bytes} bytes"
            ) from None
        try:
            return await self._accept(device, client_id, started_at, claimed_sha256, received)
        finally:
            self.store.discard(received.path)  # placed, or not wanted: gone from .incoming

    async def _accept(
        self,
        device: Device,
        client_id: uuid.UUID,
        started_at: datetime,
        claimed_sha256: str | None,
        received: Received,
    ) -> Accepted:
        if claimed_sha256 is not None and claimed_sha256.lower() != received.sha256:
            raise APIError(400, "The body does not match X-Chunk-Sha256 (damaged in transit)")
        async with self.sessions() as session:
            existing = await self._existing(session, device.id, client_id, started_at)
        if existing is not None:
            if existing.state == "receiving":
                # Left by a crash (this process serializes uploads of a chunk).
                existing = await self.settle(existing)
            if existing is not None:
                return self._repeat(existing, client_id, received)
        info = await self._probe(received)
        return await self._store(device, client_id, started_at, received, info)

    async def _existing(
        self, session: AsyncSession, device_id: uuid.UUID, client_id: uuid.UUID, started: datetime
    ) -> AudioChunk | None:
        rows = await session.scalars(
            select(AudioChunk).where(
                AudioChunk.device_id == device_id,
                (AudioChunk.client_id == client_id) | (AudioChunk.started_at == started),
            )
        )
        found = list(rows)
        return next((r for r in found if r.client_id == client_id), found[0] if found else None)

    def _repeat(self, existing: AudioChunk, client_id: uuid.UUID, received: Received) -> Accepted:
        if existing.client_id != client_id:
            raise APIError(409, "Another chunk of this device starts at the same time")
        if existing.sha256 != received.sha256:
            raise APIError(409, "This chunk id was already uploaded with other content")
        return Accepted(chunk_out(existing), created=False)

    async def _probe(self, received: Received) -> AudioInfo:
        try:
            info = await probe(received.path)
        except NotAudio as exc:
            raise APIError(400, f"The body is not audio: {exc}") from None
        if info.codec not in self.ingest.codecs:
            raise APIError(
                415,
                f"Codec {info.codec!r} is not accepted (accepted: {', '.join(self.ingest.codecs)})",
            )
        if not 0 < info.duration_s <= self.ingest.max_chunk_s + DURATION_SLACK_S:
            raise APIError(
                400, f"A chunk must last more than 0 and at most {self.ingest.max_chunk_s} s"
            )
        return info

    async def _store(
        self,
        device: Device,
        client_id: uuid.UUID,
        started_at: datetime,
        received: Received,
        info: AudioInfo,
    ) -> Accepted:
        row = AudioChunk(
            device_id=device.id,
            client_id=client_id,
            started_at=started_at,
            ended_at=started_at + timedelta(seconds=info.duration_s),
            duration_s=info.duration_s,
            size_bytes=received.size_bytes,
            sha256=received.sha256,
            codec=info.codec,
            sample_rate=info.sample_rate,
            channels=info.channels,
            path=self.store.relative_path(device.id, client_id, started_at),
            state="receiving",
        )
        async with self.sessions() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                raise APIError(
                    409, "Another chunk of this device starts at the same time"
                ) from None
        try:
            await self.store.place(received, row.path)
            await self._complete(row)
        except BaseException:
            await self._undo(row)
            raise
        return Accepted(chunk_out(row), created=True)

    async def _complete(self, row: AudioChunk) -> None:
        """`receiving` → `stored`, with the chunk's job and the device's last upload."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(AudioChunk).where(AudioChunk.id == row.id).values(state="stored")
            )
            await session.execute(
                update(Device).where(Device.id == row.device_id).values(last_upload_at=func.now())
            )
            await jobs.enqueue(
                session,
                VAD,
                row.id,
                self.job_settings,
                partition=str(row.device_id),
                position=row.started_at,
            )
        row.state = "stored"

    async def _undo(self, row: AudioChunk) -> None:
        self.store.discard(self.store.absolute(row.path))
        async with self.sessions() as session, session.begin():
            await session.execute(delete(AudioChunk).where(AudioChunk.id == row.id))

    async def settle(self, row: AudioChunk) -> AudioChunk | None:
        """Finish or undo a chunk a crash left `receiving`: stored when its file is
        in place and whole, else gone (the device will upload it again)."""
        path = self.store.absolute(row.path)
        if path.is_file() and path.stat().st_size == row.size_bytes:
            await self._complete(row)
            return row
        await self._undo(row)
        return None

    async def settle_all(self) -> int:
        """Settle every chunk left `receiving` (at start, before uploads are taken)."""
        async with self.sessions() as session:
            left = list(
                await session.scalars(select(AudioChunk).where(AudioChunk.state == "receiving"))
            )
        for row in left:
            await self.settle(row)
        return len(left)

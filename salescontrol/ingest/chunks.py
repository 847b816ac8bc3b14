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

Who may settle a `receiving` row: only someone who owns the chunk's identity — its
id and its start on the device. Each upload owns both for its whole database part
(`_owned`: transaction-scoped advisory locks on a session of its own, released
when the request ends or its process dies and the connection closes), so a row
whose identity can be taken has no live request behind it; one whose identity
cannot is another request's, in flight, and left alone: an upload that meets one
is a 503 to retry. Inside this process the route queues uploads of one chunk id or
one start, so there the second simply waits for the first's answer.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.http import APIError, retry_after
from core.settings import IngestSettings, JobSettings
from salescontrol import jobs
from salescontrol.db.models import AudioChunk, Device
from salescontrol.ingest.probe import AudioInfo, NotAudio, probe
from salescontrol.ingest.schemas import ChunkOut
from salescontrol.ingest.storage import AudioStore, Received, TooLarge
from salescontrol.ingest.unavailable import RETRY_S

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
        owners: async_sessionmaker[AsyncSession],
        store: AudioStore,
        ingest: IngestSettings,
        job_settings: JobSettings,
    ):
        self.sessions = sessions
        self.owners = owners
        """Sessions of a pool of their own that hold an upload's ownership (`_owned`)
        for its whole database part: from the shared pool, a burst of uploads could
        each hold one and all wait for a second that none gives back."""
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
        async with self._owned(device.id, client_id, started_at) as owned:
            if not owned:
                # Not a 409: the other upload may still fail, and then this one
                # is the chunk to keep. Its retry gets the final answer.
                raise APIError(
                    503,
                    "Another upload of this chunk id or start is in progress, retry later",
                    retry_after(RETRY_S),
                )
            async with self.sessions() as session:
                existing = await self._existing(session, device.id, client_id, started_at)
            if existing is not None:
                if existing.state == "receiving":
                    # Its identity is ours, so no live request owns it: a crash left it.
                    existing = await self.settle(existing)
                if existing is not None:
                    return self._repeat(existing, client_id, received)
            info = await self._probe(received)
            return await self._store(device, client_id, started_at, received, info)

    @asynccontextmanager
    async def _owned(
        self, device_id: uuid.UUID, client_id: uuid.UUID, started_at: datetime
    ) -> AsyncIterator[bool]:
        """Own the chunk's id and its start on the device for the block, or yield
        False when a live upload (of this or another process) owns either. Never
        waits: a waiting lock would hold a connection for nothing."""
        keys = (
            f"salescontrol.chunk:{device_id}:{client_id}",
            f"salescontrol.chunk-start:{device_id}:{started_at.astimezone(UTC).isoformat()}",
        )
        taken = and_(*(func.pg_try_advisory_xact_lock(func.hashtextextended(k, 0)) for k in keys))
        async with self.owners() as session, session.begin():
            yield bool(await session.scalar(select(taken)))

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
            if not await self._complete(row):
                raise APIError(
                    503,
                    "The chunk's record was removed while it was stored, upload it again",
                    retry_after(RETRY_S),
                )
        except BaseException:
            await self._undo(row)
            raise
        return Accepted(chunk_out(row), created=True)

    async def _complete(self, row: AudioChunk) -> bool:
        """`receiving` → `stored`, with the chunk's job and the device's last upload;
        False, with nothing written, when the row is no longer `receiving`."""
        async with self.sessions() as session, session.begin():
            changed = await session.scalar(
                update(AudioChunk)
                .where(AudioChunk.id == row.id, AudioChunk.state == "receiving")
                .values(state="stored")
                .returning(AudioChunk.id)
            )
            if changed is None:
                return False
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
        return True

    async def _undo(self, row: AudioChunk) -> None:
        self.store.discard(self.store.absolute(row.path))
        async with self.sessions() as session, session.begin():
            await session.execute(delete(AudioChunk).where(AudioChunk.id == row.id))

    async def settle(self, row: AudioChunk) -> AudioChunk | None:
        """Finish or undo a chunk a crash left `receiving`: stored when its file is
        in place and whole, else gone (the device will upload it again). The
        caller owns the chunk's identity (`_owned`), so no live upload races this."""
        path = self.store.absolute(row.path)
        if path.is_file() and path.stat().st_size == row.size_bytes:
            # False only when someone outside these rules changed the row: then
            # its file is not this settle's to delete.
            return row if await self._complete(row) else None
        await self._undo(row)
        return None

    async def settle_all(self) -> int:
        """Settle every chunk a crash left `receiving` (at start, before uploads are
        taken); a chunk another process's live upload owns is left to it. The
        number settled."""
        async with self.sessions() as session:
            left = list(
                await session.scalars(select(AudioChunk).where(AudioChunk.state == "receiving"))
            )
        settled = 0
        for row in left:
            async with self._owned(row.device_id, row.client_id, row.started_at) as owned:
                if not owned:
                    continue
                async with self.sessions() as session:
                    # Read again now that it is ours: its upload may have ended meanwhile.
                    still = await session.scalar(
                        select(AudioChunk).where(
                            AudioChunk.id == row.id, AudioChunk.state == "receiving"
                        )
                    )
                if still is not None:
                    await self.settle(still)
                    settled += 1
        return settled

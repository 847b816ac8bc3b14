"""The demo's chunks, stored exactly as uploads are: each slot's copies of the
shop day's chunk files go through the ingest's `Chunks.accept` (streamed into
`.incoming/`, hashed, fsynced, probed, committed, renamed into place, then
`stored` together with their VAD job), so every row has its own file in the
audio directory, and a second run is a repeat the ingest recognizes.

Only slots after a device's last stored chunk are added: the cutter takes a
device's audio in recorded order, so a day older than what is loaded would not
be cut as a recorder's audio is.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import IngestSettings, JobSettings, Settings
from salescontrol.db.models import AudioChunk, Device
from salescontrol.demo.plan import Slot
from salescontrol.demo.source import SourceDay
from salescontrol.ingest.chunks import Chunks
from salescontrol.ingest.probe import AudioInfo
from salescontrol.ingest.storage import AudioStore, Received

_NAMESPACE = uuid.UUID("0d5e7f3a-9b1c-4a6e-8f2d-3c4b5a697887")
_PIECE = 1 << 16
_PARALLEL = 4


class _CopiesProbedOnce(Chunks):
    """The ingest's chunks, except that each distinct file is probed once: the
    demo stores a few files many times over, and ffprobe's answer for the same
    bytes is the same."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: AudioStore,
        ingest: IngestSettings,
        job_settings: JobSettings,
    ):
        # The uploads' ownership on the same pool: at most _PARALLEL of them hold
        # one connection each and want one more, which the pool of load.py (4 and
        # 4 on overflow) has room for.
        super().__init__(sessions, sessions, store, ingest, job_settings)
        self._probed: dict[str, AudioInfo] = {}

    async def _probe(self, received: Received) -> AudioInfo:
        info = self._probed.get(received.sha256)
        if info is None:
            info = self._probed[received.sha256] = await super()._probe(received)
        return info


async def _body(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while piece := source.read(_PIECE):
            yield piece


def client_id(device_id: uuid.UUID, started_at: datetime) -> uuid.UUID:
    """The chunk id the device would have sent: the same for the same slot."""
    return uuid.uuid5(_NAMESPACE, f"{device_id}/{started_at.isoformat()}")


@dataclass(frozen=True, slots=True)
class Stored:
    chunks: int
    bytes: int


async def store_slots(
    sessions: async_sessionmaker[AsyncSession],
    store: AudioStore,
    settings: Settings,
    devices: dict[str, Device],
    slots: list[Slot],
    day: SourceDay,
) -> Stored:
    """Upload the chunks of the slots that come after each device's last chunk."""
    async with sessions() as session:
        rows = await session.execute(
            select(AudioChunk.device_id, func.max(AudioChunk.ended_at)).group_by(
                AudioChunk.device_id
            )
        )
        last = {device: end for device, end in rows}
    sc = settings.salescontrol
    chunks = _CopiesProbedOnce(sessions, store, sc.ingest, sc.jobs)
    work: list[tuple[Device, datetime, Path]] = []
    for slot in slots:
        device = devices[slot.device]
        done = last.get(device.id)
        if done is not None and slot.start < done:
            continue
        for index in range(slot.first, slot.last + 1):
            work.append((device, slot.chunk_start(day, index), day.chunks[index].path))
    gate = asyncio.Semaphore(_PARALLEL)
    sizes: list[int] = []

    async def upload(device: Device, started: datetime, path: Path) -> None:
        async with gate:
            accepted = await chunks.accept(
                device, client_id(device.id, started), started, None, _body(path)
            )
        if accepted.created:
            sizes.append(accepted.chunk.size_bytes)

    await asyncio.gather(*(upload(*item) for item in work))
    return Stored(len(sizes), sum(sizes))

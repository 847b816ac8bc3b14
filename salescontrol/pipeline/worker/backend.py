"""Where a worker gets its jobs and their inputs and sends their results: the
database itself (`LocalBackend`, on the core server) or the ingest API's internal
routes (`RemoteBackend`, salescontrol.pipeline.worker.remote) — the same
operations, so a worker is the same code wherever it runs."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.settings import SalesControlSettings
from salescontrol import jobs
from salescontrol.pipeline import inputs, service
from salescontrol.pipeline.messages import ChunkAudio, DialogueSpeech, DialogueText, JobResult


class Backend(Protocol):
    async def claim(self, kind: str, worker: str, lease_s: float) -> jobs.Claimed | None: ...
    async def renew(self, job_id: int, worker: str, lease_s: float) -> bool: ...
    async def finish(self, job_id: int, worker: str, result: JobResult) -> bool: ...
    async def fail(self, job_id: int, worker: str, error: str) -> str | None: ...
    async def chunk(self, chunk_id: uuid.UUID) -> ChunkAudio: ...
    async def chunk_path(self, chunk_id: uuid.UUID) -> Path: ...
    async def dialogue_speech(self, dialogue_id: uuid.UUID) -> DialogueSpeech: ...
    async def dialogue_text(self, dialogue_id: uuid.UUID) -> DialogueText: ...
    async def aclose(self) -> None: ...


class LocalBackend:
    """Jobs straight from PostgreSQL and audio from the audio directory."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        audio_dir: Path,
        sc: SalesControlSettings,
    ):
        self.engine = engine
        self.sessions = sessions
        self.audio_dir = audio_dir
        self.sc = sc

    async def claim(self, kind: str, worker: str, lease_s: float) -> jobs.Claimed | None:
        async with self.sessions() as session:
            return await service.claim(session, kind, worker, lease_s)

    async def renew(self, job_id: int, worker: str, lease_s: float) -> bool:
        async with self.sessions() as session:
            return await jobs.renew(session, job_id, worker, lease_s)

    async def finish(self, job_id: int, worker: str, result: JobResult) -> bool:
        async with self.sessions() as session:
            return await service.finish(session, job_id, worker, result, self.sc)

    async def fail(self, job_id: int, worker: str, error: str) -> str | None:
        async with self.sessions() as session:
            failed = await service.fail(session, job_id, worker, error, self.sc)
        return None if failed is None else failed.state

    async def chunk(self, chunk_id: uuid.UUID) -> ChunkAudio:
        async with self.sessions() as session:
            info, _ = await inputs.chunk_audio(session, chunk_id)
        return info

    async def chunk_path(self, chunk_id: uuid.UUID) -> Path:
        async with self.sessions() as session:
            _, path = await inputs.chunk_audio(session, chunk_id)
        return self.audio_dir / path

    async def dialogue_speech(self, dialogue_id: uuid.UUID) -> DialogueSpeech:
        async with self.sessions() as session:
            return await inputs.dialogue_speech(session, dialogue_id)

    async def dialogue_text(self, dialogue_id: uuid.UUID) -> DialogueText:
        async with self.sessions() as session:
            return await inputs.dialogue_text(session, dialogue_id)

    async def aclose(self) -> None:
        await self.engine.dispose()

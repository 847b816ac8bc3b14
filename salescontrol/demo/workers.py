"""The pipeline run in-process on the demo's audio, through the real job queue
and the real workers (`salescontrol.pipeline.worker`): the VAD jobs with the VAD
worker's handler, so the dialogues are cut exactly as in production; then the
transcription and analysis jobs with handlers that read the script
(salescontrol.demo.script), or Whisper's handler with `--asr`.

The demo's transcription and analysis workers take only the demo's jobs: in a
database with real dialogues waiting for Whisper or the LLM, a script's
transcript must never land on them.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.settings import SalesControlSettings, Settings
from salescontrol import jobs
from salescontrol.db.models import Analysis, AudioChunk, Device, Dialogue, Job
from salescontrol.demo.script import (
    ScriptIndex,
    earlier,
    judgement,
    skipped,
    transcript,
)
from salescontrol.demo.source import SourceDay
from salescontrol.pipeline import service
from salescontrol.pipeline.analysis.analyse import skip_reason
from salescontrol.pipeline.dialogues import close_idle
from salescontrol.pipeline.messages import ANALYSIS, ASR, VAD, AnalysisResult, JobResult
from salescontrol.pipeline.outputs import apply_analysis
from salescontrol.pipeline.worker.backend import LocalBackend
from salescontrol.pipeline.worker.handlers import handler_for
from salescontrol.pipeline.worker.loop import Handler, Worker
from salescontrol.recorder.status import OUTSIDE_HOURS

WORKERS = 2
EARLIER_EVERY = 8
"""One dialogue in this many gets an earlier analysis run (`_earlier_runs`)."""
"""Workers per stage (the jobs are database round trips; two keep both busy)."""


class DemoBackend(LocalBackend):
    """The local backend, whose dialogue jobs are only those of the demo's points."""

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        audio_dir: Path,
        sc: SalesControlSettings,
        points: list[uuid.UUID],
    ):
        super().__init__(engine, sessions, audio_dir, sc)
        self.points = points

    async def claim(self, kind: str, worker: str, lease_s: float) -> jobs.Claimed | None:
        if kind == VAD:
            return await super().claim(kind, worker, lease_s)
        async with self.sessions() as session:
            waiting = await session.scalars(
                select(Job.subject_id)
                .join(Dialogue, Dialogue.id == Job.subject_id)
                .where(
                    Job.kind == kind,
                    Job.state.in_(("queued", "running")),
                    Dialogue.point_id.in_(self.points),
                )
            )
            return await service.claim(session, kind, worker, lease_s, subjects=list(waiting))


async def _stage(kind: str, backend: DemoBackend, handler: Handler, settings: Settings) -> int:
    """Run the stage's workers until none of its jobs is left to take; jobs done."""
    stop = asyncio.Event()
    workers = [
        Worker(kind, backend, handler, settings.salescontrol, name=f"demo:{kind}:{i}")
        for i in range(WORKERS)
    ]
    await asyncio.gather(*(w.run(stop, until_idle=True) for w in workers))
    return sum(w.done for w in workers)


def _vad_once_per_file(real: Handler, shas: dict[uuid.UUID, str]) -> Handler:
    """The VAD worker's handler, run once per distinct file: the demo's chunks are
    copies of a few, and the same bytes give the same speech."""
    found: dict[str, JobResult] = {}

    async def handle(job: jobs.Claimed) -> JobResult:
        sha = shas.get(job.subject_id)
        if sha is not None and sha in found:
            return found[sha]
        result = await real(job)
        if sha is not None:
            found[sha] = result
        return result

    return handle


async def _chunk_offsets(
    session: AsyncSession, day: SourceDay, devices: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, timedelta]]:
    """The demo chunks' hashes, and how much later each starts than its source."""
    rows = await session.execute(
        select(AudioChunk.id, AudioChunk.sha256, AudioChunk.started_at).where(
            AudioChunk.device_id.in_(devices)
        )
    )
    sources = day.chunk_by_sha()
    shas, offsets = {}, {}
    for chunk_id, sha, started in rows:
        shas[chunk_id] = sha
        if sha in sources:
            offsets[chunk_id] = started - sources[sha].start
    return shas, offsets


class Pipeline:
    """The demo's pass through VAD, cutting, transcription and analysis."""

    def __init__(
        self,
        backend: DemoBackend,
        settings: Settings,
        day: SourceDay,
        devices: list[uuid.UUID],
        use_asr: bool = False,
    ):
        self.backend = backend
        self.settings = settings
        self.day = day
        self.devices = devices
        self.use_asr = use_asr
        self.index = ScriptIndex(day, {})
        self.done: dict[str, int] = {}

    async def run(self, now: datetime) -> dict[str, int]:
        sessions = self.backend.sessions
        async with sessions() as session:
            shas, offsets = await _chunk_offsets(session, self.day, self.devices)
        self.index = ScriptIndex(self.day, offsets)
        real_vad = handler_for(VAD, self.backend, self.settings)
        vad = _vad_once_per_file(real_vad, shas)
        self.done[VAD] = await _stage(VAD, self.backend, vad, self.settings)
        await self._close_last(now)
        asr = handler_for(ASR, self.backend, self.settings) if self.use_asr else self._script
        self.done[ASR] = await _stage(ASR, self.backend, asr, self.settings)
        await self._earlier_runs()
        self.done[ANALYSIS] = await _stage(ANALYSIS, self.backend, self._judge, self.settings)
        return self.done

    async def _close_last(self, now: datetime) -> None:
        """Close each device's last dialogue as the core's housekeeping would once
        the device has sent nothing for a while: its last upload is its last chunk,
        and a heartbeat right after it reported that recording stopped with nothing
        left to send (the sample's end). `report_health` sets the final health."""
        sc = self.settings.salescontrol
        async with self.backend.sessions() as session:
            last = (
                select(func.max(AudioChunk.ended_at))
                .where(AudioChunk.device_id == Device.id)
                .scalar_subquery()
            )
            stopped = {"recording": False, "reason": OUTSIDE_HOURS, "queue": 0}
            await session.execute(
                update(Device)
                .where(Device.id.in_(self.devices))
                .values(
                    last_upload_at=last,
                    last_seen_at=last + timedelta(seconds=1),
                    last_health=stopped,
                )
            )
            await session.commit()
            await close_idle(session, sc.speech.dialogues, sc.jobs, now)

    async def _script(self, job: jobs.Claimed) -> JobResult:
        speech = await self.backend.dialogue_speech(job.subject_id)
        return transcript(self.index.truth(speech), speech)

    async def _judgement(self, dialogue_id: uuid.UUID) -> AnalysisResult:
        sc = self.settings.salescontrol
        text_ = await self.backend.dialogue_text(dialogue_id)
        reason = skip_reason(text_, sc.speech.analysis)
        if reason is not None:
            return skipped(reason)
        speech = await self.backend.dialogue_speech(dialogue_id)
        truth = self.index.truth(speech)
        if truth is None:
            return skipped("в сценарии демо нет такого диалога")
        business = sc.businesses[text_.business]
        return judgement(truth, speech, text_, business, sc.speech.analysis.max_evidence)

    async def _judge(self, job: jobs.Claimed) -> JobResult:
        return await self._judgement(job.subject_id)

    async def _earlier_runs(self) -> None:
        """An earlier run for a few dialogues about to be judged, so the history of
        re-runs has something to show: every EARLIER_EVERY-th in order of start (the
        same ones for the same schedule; ids differ between databases)."""
        async with self.backend.sessions() as session:
            waiting = await session.scalars(
                select(Job.subject_id)
                .join(Dialogue, Dialogue.id == Job.subject_id)
                .where(
                    Job.kind == ANALYSIS,
                    Job.state == "queued",
                    Dialogue.device_id.in_(self.devices),
                    ~exists().where(and_(Analysis.dialogue_id == Job.subject_id)),
                )
                .order_by(Dialogue.started_at, Dialogue.id)
            )
            chosen = list(waiting)[::EARLIER_EVERY]
        for dialogue_id in chosen:
            current = await self._judgement(dialogue_id)
            if current.status != "done" or current.attempted != "yes":
                continue
            async with self.backend.sessions() as session, session.begin():
                await apply_analysis(
                    session, dialogue_id, earlier(current), self.settings.salescontrol
                )

"""Writing a job's result, in the transaction that finishes the job: a transcript
(then the dialogue's analysis job), an analysis run (earlier runs kept as
history), or a chunk's failure recorded on the chunk."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import JobSettings, SalesControlSettings
from salescontrol import jobs
from salescontrol.db.models import Analysis, AudioChunk, Dialogue, Transcript
from salescontrol.pipeline.dialogues import apply_vad
from salescontrol.pipeline.messages import (
    ANALYSIS,
    VAD,
    AnalysisResult,
    JobResult,
    TranscriptResult,
    VadResult,
)


async def apply_transcript(
    session: AsyncSession,
    dialogue_id: uuid.UUID,
    result: TranscriptResult,
    job_cfg: JobSettings,
) -> None:
    await session.execute(
        insert(Transcript)
        .values(
            dialogue_id=dialogue_id,
            text=result.text,
            segments=[s.model_dump(mode="json") for s in result.segments],
            language=result.language,
            model=result.model,
            avg_logprob=result.avg_logprob,
            no_speech_prob=result.no_speech_prob,
            passes=result.passes,
        )
        .on_conflict_do_nothing(index_elements=["dialogue_id"])
    )
    await jobs.enqueue(session, ANALYSIS, dialogue_id, job_cfg)


async def apply_analysis(
    session: AsyncSession, dialogue_id: uuid.UUID, result: AnalysisResult
) -> int:
    """Add a run; it becomes the current one. Its number."""
    # The dialogue's row lock orders concurrent runs (a re-run never races one).
    await session.get(Dialogue, dialogue_id, with_for_update=True)
    last = await session.scalar(
        select(func.max(Analysis.run)).where(Analysis.dialogue_id == dialogue_id)
    )
    run = (last or 0) + 1
    await session.execute(
        update(Analysis)
        .where(Analysis.dialogue_id == dialogue_id, Analysis.current.is_(True))
        .values(current=False)
    )
    fields = result.model_dump(exclude={"kind"})
    await session.execute(insert(Analysis).values(dialogue_id=dialogue_id, run=run, **fields))
    return run


async def apply_result(
    session: AsyncSession, subject: uuid.UUID, result: JobResult, sc: SalesControlSettings
) -> None:
    """Write any job's result (the caller finishes the job in the same transaction)."""
    if isinstance(result, VadResult):
        await apply_vad(session, subject, result, sc.speech.dialogues, sc.jobs)
    elif isinstance(result, TranscriptResult):
        await apply_transcript(session, subject, result, sc.jobs)
    else:
        await apply_analysis(session, subject, result)


async def record_failure(
    session: AsyncSession, kind: str, subject: uuid.UUID, error: str, state: str, attempts: int
) -> None:
    """A chunk shows its VAD job's failures (its `failed` state once the job is dead)."""
    if kind != VAD:
        return
    values: dict[str, object] = {"attempts": attempts, "last_error": error[:2000]}
    if state == "dead":
        values["state"] = "failed"
    await session.execute(
        update(AudioChunk)
        .where(AudioChunk.id == subject, AudioChunk.state == "stored")
        .values(**values)
    )

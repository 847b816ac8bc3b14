"""Writing a job's result, in the transaction that finishes the job: a transcript
(then the dialogue's analysis job), an analysis run (earlier runs kept as
history), or a chunk's failure recorded on the chunk.

An analysis is checked here before it is stored, whoever made it: a local worker
or one on another host, which may be an older version or a buggy one."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import JobSettings, SalesControlSettings
from salescontrol import jobs
from salescontrol.db.models import Analysis, AudioChunk, Dialogue, Transcript
from salescontrol.pipeline.analysis.schema import inconsistency, occurs
from salescontrol.pipeline.dialogues import apply_vad
from salescontrol.pipeline.inputs import NotReady, dialogue_text
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


class InvalidResult(ValueError):
    """A result the core does not store; the message says why (never quoting the
    dialogue's text)."""


def analysis_problem(
    result: AnalysisResult, transcript: str, categories: Collection[str], max_evidence: int
) -> str | None:
    """Why `result` must not be stored for a dialogue with `transcript` at a point
    whose kind of shop has `categories`, or None. The analysis worker holds its
    model's answer to the same rules (analysis.schema); the fields' types and
    ranges (quality 0-3, attempted yes/no/uncertain …) are `AnalysisResult`'s."""
    if len(result.evidence) > max_evidence:
        return f"{len(result.evidence)} evidence quotes, at most {max_evidence} allowed"
    for number, quote in enumerate(result.evidence, 1):
        if not occurs(quote, transcript):
            return f"evidence quote {number} does not occur in the dialogue's transcript"
    unknown = [c for c in result.categories if c not in categories]
    if unknown:
        return (
            f"categories {', '.join(unknown)} are not among the point's "
            f"({', '.join(categories) or 'none: its kind of shop is not configured'})"
        )
    if result.status == "skipped":
        return None
    if result.attempted is None or result.quality is None or result.customer_reaction is None:
        return "a done analysis needs attempted, quality and customer_reaction"
    broken = inconsistency(
        result.attempted, result.quality, result.categories, result.customer_reaction
    )
    return None if broken is None else f"inconsistent judgement: {broken}"


async def apply_analysis(
    session: AsyncSession,
    dialogue_id: uuid.UUID,
    result: AnalysisResult,
    sc: SalesControlSettings,
) -> int:
    """Add a run; it becomes the current one. Its number. Raises `InvalidResult`
    (nothing written) for a result `analysis_problem` refuses."""
    # The dialogue's row lock orders concurrent runs (a re-run never races one).
    await session.get(Dialogue, dialogue_id, with_for_update=True)
    try:
        # What the analysis worker was given to judge.
        judged = await dialogue_text(session, dialogue_id)
    except NotReady as exc:
        raise InvalidResult(f"invalid analysis: {exc}") from None
    shop = sc.businesses.get(judged.business)
    categories = list(shop.categories) if shop is not None else []
    problem = analysis_problem(result, judged.text, categories, sc.speech.analysis.max_evidence)
    if problem is not None:
        raise InvalidResult(f"invalid analysis: {problem}")
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
        await apply_analysis(session, subject, result, sc)


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

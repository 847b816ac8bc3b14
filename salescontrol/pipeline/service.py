"""Finishing and failing jobs with their results — the one place both the local
workers (on the core, with the database) and the internal routes (for workers on
other hosts) go through, so the rules are the same: a result counts only if its
worker still holds the job's lease, and it is written in the same transaction that
marks the job done."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import SalesControlSettings
from salescontrol import jobs
from salescontrol.db.models import Job
from salescontrol.pipeline.messages import JobResult
from salescontrol.pipeline.outputs import apply_result, record_failure

log = logging.getLogger("salescontrol.pipeline")


class WrongResult(ValueError):
    """A result of another kind than its job."""


@dataclass(frozen=True, slots=True)
class JobRef:
    id: int
    kind: str
    subject_id: uuid.UUID
    attempts: int


async def job_ref(session: AsyncSession, job_id: int) -> JobRef | None:
    job = await session.get(Job, job_id)
    return None if job is None else JobRef(job.id, job.kind, job.subject_id, job.attempts)


async def finish(
    session: AsyncSession, job_id: int, worker: str, result: JobResult, sc: SalesControlSettings
) -> bool:
    """Write `result` and mark the job done, atomically; False (nothing written)
    when `worker` no longer holds the job."""
    async with session.begin():
        job = await session.get(Job, job_id)
        if job is None:
            return False
        if job.kind != result.kind:
            raise WrongResult(f"job {job_id} is a {job.kind} job, not {result.kind}")
        if not await jobs.finish(session, job_id, worker):
            await session.rollback()
            return False
        await apply_result(session, job.subject_id, result, sc)
    return True


async def fail(
    session: AsyncSession, job_id: int, worker: str, error: str, sc: SalesControlSettings
) -> jobs.Failed | None:
    """Count a failed attempt (and show it on the job's chunk)."""
    async with session.begin():
        job = await session.get(Job, job_id)
        if job is None:
            return None
        failed = await jobs.fail(session, job_id, worker, error, sc.jobs)
        if failed is not None:
            await record_failure(
                session, job.kind, job.subject_id, error, failed.state, failed.attempts
            )
    if failed is not None and failed.state == "dead":
        log.error(
            "job dead",
            extra={"job_id": job_id, "job_kind": job.kind, "attempts": failed.attempts},
        )
    return failed

"""Claiming, finishing and failing jobs with their results — the one place both
the local workers (on the core, with the database) and the internal routes (for
workers on other hosts) go through, so the rules are the same: a result counts only
if its worker still holds the job's lease, and it is written in the same
transaction that marks the job done; a job that dies — failed on its last attempt
or buried when its worker vanished during it — leaves its subject in the same
final state (`outputs.record_failure`). A result the core refuses (`outputs.InvalidResult`) is not
written: the job is failed with the reason, so it is tried again later, and the
poster learns why (`ResultRefused`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import SalesControlSettings
from salescontrol import jobs
from salescontrol.db.models import Job
from salescontrol.pipeline.messages import JobResult
from salescontrol.pipeline.outputs import InvalidResult, apply_result, record_failure

log = logging.getLogger("salescontrol.pipeline")


class WrongResult(InvalidResult):
    """A result of another kind than its job."""


class ResultRefused(Exception):
    """The core did not store a job's result, for `reason`. `state` is the job's
    state after it was failed for it (`queued`: tried again later, `dead`); None
    when it was not (its poster no longer held it) or is not known (a refusal
    received over HTTP, whose message says it)."""

    def __init__(self, reason: str, state: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.state = state

    def __str__(self) -> str:
        if self.state == "queued":
            return f"{self.reason}; the job is queued to be tried again"
        if self.state == "dead":
            return f"{self.reason}; the job is dead: it has no attempts left"
        return self.reason


@dataclass(frozen=True, slots=True)
class JobRef:
    id: int
    kind: str
    subject_id: uuid.UUID
    attempts: int


async def job_ref(session: AsyncSession, job_id: int) -> JobRef | None:
    job = await session.get(Job, job_id)
    return None if job is None else JobRef(job.id, job.kind, job.subject_id, job.attempts)


async def claim(
    session: AsyncSession,
    kind: str,
    worker: str,
    lease_s: float,
    subjects: Sequence[uuid.UUID] | None = None,
) -> jobs.Claimed | None:
    """The next job of `kind` for `worker` (jobs.claim), the jobs it buries first
    ending as a last failed attempt does."""
    return await jobs.claim(session, kind, worker, lease_s, subjects, on_dead=_buried)


async def _buried(session: AsyncSession, dead: jobs.Dead) -> None:
    await record_failure(session, dead.kind, dead.subject_id, dead.error, "dead", dead.attempts)
    _log_dead(dead.id, dead.kind, dead.attempts)


def _log_dead(job_id: int, kind: str, attempts: int) -> None:
    log.error("job dead", extra={"job_id": job_id, "job_kind": kind, "attempts": attempts})


async def finish(
    session: AsyncSession, job_id: int, worker: str, result: JobResult, sc: SalesControlSettings
) -> bool:
    """Write `result` and mark the job done, atomically; False (nothing written)
    when `worker` no longer holds the job. Raises `ResultRefused` (nothing written,
    the job failed) for a result the core does not store."""
    try:
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
    except InvalidResult as exc:
        # Rolled back; the attempt counts, as any failure's (a worker that keeps
        # posting invalid results ends its job dead, with this reason to look at).
        failed = await fail(session, job_id, worker, f"result refused: {exc}", sc)
        raise ResultRefused(str(exc), None if failed is None else failed.state) from None
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
        _log_dead(job_id, job.kind, failed.attempts)
    return failed

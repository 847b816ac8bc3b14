"""The job queue in PostgreSQL: what workers do, each job taken by one worker at a
time.

A job is claimed with `SELECT … FOR UPDATE SKIP LOCKED` inside the claiming
transaction, so two workers never take the same one; the claim is a lease that
expires: a worker that dies (SIGKILL, a lost host) simply stops renewing it, and
once it has expired the job is claimable again, its attempt counted. Only the
worker holding the current lease can finish or fail a job, so a worker that
comes back after its lease was taken over cannot overwrite the new one's work.
A failed job waits with exponential backoff and is dead after `max_attempts`,
kept with its last error for a person to look at. A job whose worker vanished
during its last attempt is buried (dead) by the next claim of its kind, and the
claimer is told (`on_dead`), so that its subject ends as after a last failure.

Jobs of one `partition` (a device's chunks) run one at a time, in `position`
order: a job is claimable only when no earlier job of its partition is still
waiting or running.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import JobSettings


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    kind: str
    subject_id: uuid.UUID
    attempts: int
    lease_expires_at: datetime


_CLAIM = text(
    """
    WITH candidate AS (
        SELECT j.id FROM jobs j
        WHERE j.kind = :kind
          AND ((j.state = 'queued' AND j.available_at <= now())
               OR (j.state = 'running' AND j.lease_expires_at < now()
                   AND j.attempts < j.max_attempts))
          AND (CAST(:subjects AS uuid[]) IS NULL OR j.subject_id = ANY(CAST(:subjects AS uuid[])))
          AND (j.partition IS NULL OR NOT EXISTS (
                SELECT 1 FROM jobs e
                WHERE e.kind = j.kind AND e.partition = j.partition
                  AND e.state IN ('queued', 'running') AND e.position < j.position))
        ORDER BY j.position NULLS LAST, j.available_at, j.id
        FOR UPDATE SKIP LOCKED
        LIMIT 1
    )
    UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1,
        lease_owner = :owner, lease_expires_at = now() + make_interval(secs => :lease),
        updated_at = now()
    FROM candidate WHERE jobs.id = candidate.id
    RETURNING jobs.id, jobs.kind, jobs.subject_id, jobs.attempts, jobs.lease_expires_at
    """
)


async def enqueue(
    session: AsyncSession,
    kind: str,
    subject_id: uuid.UUID,
    cfg: JobSettings,
    *,
    partition: str | None = None,
    position: datetime | None = None,
) -> None:
    """Add the job unless it exists (one job per kind and subject), in the caller's
    transaction: the job exists exactly when what it is about does."""
    await session.execute(
        text(
            "INSERT INTO jobs (kind, subject_id, partition, position, max_attempts) "
            "VALUES (:kind, :subject, :partition, :position, :max) "
            "ON CONFLICT (kind, subject_id) DO NOTHING"
        ),
        {
            "kind": kind,
            "subject": subject_id,
            "partition": partition,
            "position": position,
            "max": cfg.max_attempts,
        },
    )


LEASE_EXPIRED = "the worker stopped renewing its lease: it expired during the last attempt"
"""The last error of a buried job (an earlier attempt's error is not why it died)."""


@dataclass(frozen=True, slots=True)
class Dead:
    """A job buried: its worker vanished during its last attempt."""

    id: int
    kind: str
    subject_id: uuid.UUID
    attempts: int
    error: str


OnDead = Callable[[AsyncSession, Dead], Awaitable[None]]
"""Told of each buried job, in the transaction that buries it."""

_BURY = text(
    "UPDATE jobs SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL, "
    "last_error = :error, updated_at = now() WHERE kind = :kind AND state = 'running' "
    "AND lease_expires_at < now() AND attempts >= max_attempts "
    "RETURNING id, kind, subject_id, attempts, last_error"
)


async def claim(
    session: AsyncSession,
    kind: str,
    owner: str,
    lease_s: float,
    subjects: Sequence[uuid.UUID] | None = None,
    *,
    on_dead: OnDead,
) -> Claimed | None:
    """Take the next job of `kind` for `owner`, or None when there is none now;
    with `subjects`, only a job about one of them (`salescontrol demo` judges its
    own dialogues only). Commits: the lease exists as soon as this returns. A job
    whose worker vanished during its last attempt is dead, not taken again, and
    `on_dead` is told of it before the commit."""
    buried = await session.execute(_BURY, {"kind": kind, "error": LEASE_EXPIRED})
    for dead in buried.all():
        await on_dead(
            session, Dead(dead.id, dead.kind, dead.subject_id, dead.attempts, dead.last_error)
        )
    params = {"kind": kind, "owner": owner, "lease": lease_s,
              "subjects": None if subjects is None else list(subjects)}  # fmt: skip
    row = (await session.execute(_CLAIM, params)).first()
    await session.commit()
    if row is None:
        return None
    return Claimed(row.id, row.kind, row.subject_id, row.attempts, row.lease_expires_at)


async def renew(session: AsyncSession, job_id: int, owner: str, lease_s: float) -> bool:
    """Extend the lease (a heartbeat); False when `owner` no longer holds it."""
    result = await session.execute(
        text(
            "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => :lease), "
            "updated_at = now() WHERE id = :id AND state = 'running' AND lease_owner = :owner "
            "AND lease_expires_at >= now() RETURNING id"
        ),
        {"id": job_id, "owner": owner, "lease": lease_s},
    )
    held = result.first() is not None
    await session.commit()
    return held


async def finish(session: AsyncSession, job_id: int, owner: str) -> bool:
    """Mark the job done, in the caller's transaction (with the job's results), if
    `owner` still holds its lease; False otherwise: the caller must roll back."""
    result = await session.execute(
        text(
            "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_expires_at = NULL, "
            "last_error = NULL, updated_at = now() "
            "WHERE id = :id AND state = 'running' AND lease_owner = :owner "
            "AND lease_expires_at >= now() RETURNING id"
        ),
        {"id": job_id, "owner": owner},
    )
    return result.first() is not None


@dataclass(frozen=True, slots=True)
class Failed:
    state: str
    """`queued` (tried again after a backoff) or `dead` (no attempts left)."""
    attempts: int


async def fail(
    session: AsyncSession, job_id: int, owner: str, error: str, cfg: JobSettings
) -> Failed | None:
    """Record a failed attempt, in the caller's transaction: queued again after a
    backoff, or dead after the last attempt. None when `owner` had lost the job."""
    result = await session.execute(
        text(
            "UPDATE jobs SET "
            "state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, "
            "available_at = now() + make_interval(secs => LEAST(:cap, "
            "  :initial * power(2, GREATEST(attempts - 1, 0)))), "
            "lease_owner = NULL, lease_expires_at = NULL, last_error = :error, "
            "updated_at = now() "
            "WHERE id = :id AND state = 'running' AND lease_owner = :owner "
            "RETURNING state, attempts"
        ),
        {
            "id": job_id,
            "owner": owner,
            "error": error[:2000],
            "initial": cfg.retry_initial_s,
            "cap": cfg.retry_max_s,
        },
    )
    row = result.first()
    return None if row is None else Failed(str(row.state), int(row.attempts))


async def requeue(session: AsyncSession, kind: str, subject_id: uuid.UUID) -> str | None:
    """Run a finished or dead job again (a re-analysis), in the caller's
    transaction: `queued`; `running` when it runs right now (left alone, so a
    re-run never races it); None when there is no such job."""
    state = await session.scalar(
        text("SELECT state FROM jobs WHERE kind = :kind AND subject_id = :subject FOR UPDATE"),
        {"kind": kind, "subject": subject_id},
    )
    if state is None or state in ("queued", "running"):
        return None if state is None else str(state)
    await session.execute(
        text(
            "UPDATE jobs SET state = 'queued', attempts = 0, available_at = now(), "
            "last_error = NULL, updated_at = now() WHERE kind = :kind AND subject_id = :subject"
        ),
        {"kind": kind, "subject": subject_id},
    )
    return "queued"

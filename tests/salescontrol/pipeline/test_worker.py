"""The worker loop on the real job queue: it works until the queue is empty, its
failures are retried with backoff and end dead (shown on the chunk), and a worker
that lost its lease cannot write its result over the new holder's."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import JobSettings, SalesControlSettings, WorkerSettings, load_settings
from salescontrol import jobs
from salescontrol.db.models import AudioChunk, Dialogue, Job
from salescontrol.pipeline.messages import VAD, JobResult, SpeechSpan, VadResult
from salescontrol.pipeline.worker.backend import LocalBackend
from salescontrol.pipeline.worker.loop import Worker
from tests.salescontrol.pipeline.fleet import Fleet

T0 = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)


def settings(**jobs_changes: float) -> SalesControlSettings:
    sc = load_settings().salescontrol
    return sc.model_copy(
        update={
            "jobs": JobSettings(retry_initial_s=0.05, retry_max_s=0.1).model_copy(
                update=jobs_changes
            ),
            "workers": WorkerSettings(poll_s=0.05, renew_every_s=0.1),
        }
    )


def backend(sessions: async_sessionmaker[AsyncSession], sc: SalesControlSettings) -> LocalBackend:
    return LocalBackend(sessions.kw["bind"], sessions, Path("/nonexistent"), sc)


def speech_at(*starts: float) -> VadResult:
    return VadResult(spans=[SpeechSpan(start_s=s, end_s=s + 5) for s in starts])


async def test_workers_empty_the_queue_in_each_devices_order(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet
) -> None:
    sc = settings()
    chunks = [await fleet.chunk(T0 + timedelta(minutes=m), job_cfg=sc.jobs) for m in (2, 0, 1)]
    seen: list[uuid.UUID] = []

    async def handle(job: jobs.Claimed) -> JobResult:
        seen.append(job.subject_id)
        await asyncio.sleep(0.01)
        return speech_at(50)

    workers = [Worker(VAD, backend(sessions, sc), handle, sc, f"w{i}") for i in range(3)]
    done = await asyncio.gather(*(w.run(asyncio.Event(), until_idle=True) for w in workers))

    assert sum(done) == 3
    assert seen == [chunks[1], chunks[2], chunks[0]]  # recorded order, not upload order
    async with sessions() as session:
        assert set(await session.scalars(select(Job.state))) >= {"done"}
        found = list(await session.scalars(select(Dialogue).order_by(Dialogue.started_at)))
    # 50–55 s of each minute: 55 → 110 is a long silence, so three dialogues.
    assert [d.started_at for d in found] == [
        T0 + timedelta(minutes=m, seconds=50) for m in range(3)
    ]


async def test_a_failing_job_is_retried_then_dead_and_its_chunk_says_why(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet
) -> None:
    sc = settings(max_attempts=3)
    chunk = await fleet.chunk(T0, job_cfg=sc.jobs)
    calls = 0

    async def broken(job: jobs.Claimed) -> JobResult:
        nonlocal calls
        calls += 1
        raise RuntimeError("decoder exploded")

    worker = Worker(VAD, backend(sessions, sc), broken, sc, "w")
    for _ in range(3):
        while not await worker.run_one():  # wait out the backoff
            await asyncio.sleep(0.02)

    assert calls == 3
    async with sessions() as session:
        row = await session.get(AudioChunk, chunk)
        job = await session.scalar(select(Job).where(Job.subject_id == chunk))
    assert row is not None and job is not None
    assert (row.state, row.attempts) == ("failed", 3)
    assert row.last_error == "RuntimeError: decoder exploded"
    assert (job.state, job.last_error) == ("dead", "RuntimeError: decoder exploded")
    assert not await worker.run_one()


async def test_a_worker_that_lost_its_lease_does_not_write_its_result(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    sc = settings(lease_s=0.3)
    await fleet.chunk(T0, job_cfg=sc.jobs)
    stalled = asyncio.Event()
    release = asyncio.Event()

    async def slow(job: jobs.Claimed) -> JobResult:
        stalled.set()
        await release.wait()
        return speech_at(1)

    async def quick(job: jobs.Claimed) -> JobResult:
        return speech_at(30)

    slow_backend = backend(sessions, sc)

    async def cannot_renew(job_id: int, worker: str, lease_s: float) -> bool:
        return True  # it believes it still holds the lease (a stalled renewal)

    monkeypatch.setattr(slow_backend, "renew", cannot_renew)
    first = Worker(VAD, slow_backend, slow, sc, "slow")
    running = asyncio.create_task(first.run_one())
    await stalled.wait()
    await asyncio.sleep(0.4)  # its lease expires
    second = Worker(VAD, backend(sessions, sc), quick, sc, "quick")
    assert await second.run_one()
    release.set()
    await running

    assert (first.done, second.done) == (0, 1)
    async with sessions() as session:
        [dialogue] = list(await session.scalars(select(Dialogue)))
    assert dialogue.started_at == T0 + timedelta(seconds=30)  # the new holder's result


async def test_a_chunk_whose_worker_vanished_in_its_last_attempt_fails_as_after_an_error(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet
) -> None:
    sc = settings(max_attempts=2, lease_s=0.2)
    chunk = await fleet.chunk(T0, job_cfg=sc.jobs)
    later = await fleet.chunk(T0 + timedelta(minutes=1), job_cfg=sc.jobs)
    gone = backend(sessions, sc)
    for attempt in (1, 2):
        # A worker takes it and vanishes: no renewal, no result, no failure posted.
        taken = await gone.claim(VAD, f"gone-{attempt}", sc.jobs.lease_s)
        assert taken is not None and (taken.subject_id, taken.attempts) == (chunk, attempt)
        await asyncio.sleep(0.4)

    async def quick(job: jobs.Claimed) -> JobResult:
        return speech_at(10)

    worker = Worker(VAD, backend(sessions, sc), quick, sc, "w")
    assert await worker.run_one()  # the dead one no longer holds back the next chunk

    async with sessions() as session:
        row = await session.get(AudioChunk, chunk)
        job = await session.scalar(select(Job).where(Job.subject_id == chunk))
        next_row = await session.get(AudioChunk, later)
    assert row is not None and job is not None and next_row is not None
    assert (job.state, job.attempts, job.last_error) == ("dead", 2, jobs.LEASE_EXPIRED)
    # As an explicit last failure leaves it: failed, so retention purges its audio.
    assert (row.state, row.attempts, row.last_error) == ("failed", 2, jobs.LEASE_EXPIRED)
    assert next_row.state == "processed"

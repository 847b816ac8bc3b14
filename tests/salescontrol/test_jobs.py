"""The job queue on the real PostgreSQL: every job is taken by exactly one worker at
a time, a lease that is not renewed expires and the job is taken again (counted),
a worker that lost its lease cannot finish, failures back off and end dead, and a
device's chunks are worked in the order they were recorded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import JobSettings
from salescontrol import jobs
from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import Job

KIND = "vad"
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CFG = JobSettings(lease_s=60, max_attempts=3, retry_initial_s=0.2, retry_max_s=1)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url, pool_size=10)
    yield session_factory(engine)
    await engine.dispose()


async def add(
    sessions: async_sessionmaker[AsyncSession],
    partition: str | None = None,
    position: datetime | None = None,
    cfg: JobSettings = CFG,
) -> uuid.UUID:
    subject = uuid.uuid4()
    async with sessions() as s, s.begin():
        await jobs.enqueue(s, KIND, subject, cfg, partition=partition, position=position)
    return subject


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    owner: str,
    lease_s: float = 60,
    buried: list[jobs.Dead] | None = None,
) -> jobs.Claimed | None:
    """A claim; the jobs it buries go into `buried`."""

    async def on_dead(session: AsyncSession, dead: jobs.Dead) -> None:
        if buried is not None:
            buried.append(dead)

    async with sessions() as s:
        return await jobs.claim(s, KIND, owner, lease_s, on_dead=on_dead)


async def finish(sessions: async_sessionmaker[AsyncSession], job_id: int, owner: str) -> bool:
    async with sessions() as s, s.begin():
        return await jobs.finish(s, job_id, owner)


async def job(sessions: async_sessionmaker[AsyncSession], subject: uuid.UUID) -> Job:
    async with sessions() as s:
        row = await s.scalar(select(Job).where(Job.subject_id == subject))
    assert row is not None
    return row


async def test_concurrent_workers_never_take_the_same_job(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subjects = {await add(sessions) for _ in range(5)}

    taken = await asyncio.gather(*(claim(sessions, f"w{i}") for i in range(8)))

    got = [t for t in taken if t is not None]
    assert sorted(str(t.subject_id) for t in got) == sorted(str(s) for s in subjects)
    assert len(got) == 5 and taken.count(None) == 3
    assert all(t.attempts == 1 for t in got)


async def test_a_job_is_enqueued_once_per_subject(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subject = await add(sessions)
    async with sessions() as s, s.begin():
        await jobs.enqueue(s, KIND, subject, CFG)
    async with sessions() as s:
        assert len(list(await s.scalars(select(Job)))) == 1


async def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_finish(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subject = await add(sessions)
    first = await claim(sessions, "a", lease_s=0.3)
    assert first is not None
    assert await claim(sessions, "b") is None  # held

    await asyncio.sleep(0.5)
    second = await claim(sessions, "b")

    assert second is not None and second.id == first.id and second.attempts == 2
    async with sessions() as s:
        assert not await jobs.renew(s, first.id, "a", 60)
    assert not await finish(sessions, first.id, "a")
    async with sessions() as s:
        assert await jobs.fail(s, first.id, "a", "late", CFG) is None
    assert await finish(sessions, second.id, "b")
    done = await job(sessions, subject)
    assert (done.state, done.lease_owner, done.attempts) == ("done", None, 2)


async def test_renewing_keeps_a_lease_past_its_first_expiry(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add(sessions)
    held = await claim(sessions, "a", lease_s=0.4)
    assert held is not None
    for _ in range(3):
        await asyncio.sleep(0.2)
        async with sessions() as s:
            assert await jobs.renew(s, held.id, "a", 0.4)
    assert await claim(sessions, "b") is None
    assert await finish(sessions, held.id, "a")


async def test_a_failed_job_backs_off_then_dies_with_its_error(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subject = await add(sessions)
    states = []
    for attempt in range(1, CFG.max_attempts + 1):
        taken = None
        for _ in range(40):  # the backoff: 0.2 s, then 0.4 s
            taken = await claim(sessions, "w")
            if taken is not None:
                break
            await asyncio.sleep(0.05)
        assert taken is not None and taken.attempts == attempt
        async with sessions() as s, s.begin():
            failed = await jobs.fail(s, taken.id, "w", f"boom {attempt}", CFG)
        assert failed is not None and failed.attempts == attempt
        states.append(failed.state)
        if attempt < CFG.max_attempts:
            row = await job(sessions, subject)
            wait = CFG.retry_initial_s * 2 ** (attempt - 1)
            assert row.available_at >= row.updated_at + timedelta(seconds=wait * 0.99)
            assert await claim(sessions, "w") is None  # not before its time

    assert states == ["queued", "queued", "dead"]
    dead = await job(sessions, subject)
    assert (dead.state, dead.last_error) == ("dead", "boom 3")
    await asyncio.sleep(1.1)
    assert await claim(sessions, "w") is None


async def test_a_worker_vanishing_in_the_last_attempt_leaves_the_job_dead(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    cfg = CFG.model_copy(update={"max_attempts": 2, "retry_initial_s": 0.05})
    subject = await add(sessions, partition="dev", position=T0, cfg=cfg)
    later = await add(sessions, partition="dev", position=T0 + timedelta(minutes=1), cfg=cfg)
    first = await claim(sessions, "a")
    assert first is not None and first.subject_id == subject
    async with sessions() as s, s.begin():
        assert await jobs.fail(s, first.id, "a", "boom 1", cfg) is not None
    await asyncio.sleep(0.1)  # its backoff
    last = await claim(sessions, "a", lease_s=0.2)
    assert last is not None and (last.subject_id, last.attempts) == (subject, 2)

    await asyncio.sleep(0.4)
    buried: list[jobs.Dead] = []
    # The dead one does not block its partition: the next chunk is worked.
    taken = await claim(sessions, "b", buried=buried)

    assert taken is not None and taken.subject_id == later
    dead = await job(sessions, subject)
    # Why it died is the lost lease, not the first attempt's error.
    assert (dead.state, dead.last_error) == ("dead", jobs.LEASE_EXPIRED)
    assert buried == [jobs.Dead(dead.id, KIND, subject, 2, jobs.LEASE_EXPIRED)]
    assert await claim(sessions, "c", buried=buried) is None
    assert len(buried) == 1  # buried once


async def test_a_devices_chunks_are_worked_one_at_a_time_in_recorded_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Uploaded out of order (a recorder catching up), recorded in order.
    second = await add(sessions, "dev-1", T0 + timedelta(minutes=1))
    first = await add(sessions, "dev-1", T0)
    other = await add(sessions, "dev-2", T0 + timedelta(seconds=30))

    a = await claim(sessions, "w1")
    b = await claim(sessions, "w2")
    blocked = await claim(sessions, "w3")

    assert a is not None and b is not None
    assert (a.subject_id, b.subject_id) == (first, other)
    assert blocked is None  # dev-1's second waits for its first
    assert await finish(sessions, a.id, "w1")
    c = await claim(sessions, "w3")
    assert c is not None and c.subject_id == second


async def test_a_finished_job_runs_again_on_request_but_a_running_one_is_left_alone(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subject = await add(sessions)
    taken = await claim(sessions, "w")
    assert taken is not None
    async with sessions() as s, s.begin():
        assert await jobs.requeue(s, KIND, subject) == "running"
    assert await finish(sessions, taken.id, "w")

    async with sessions() as s, s.begin():
        assert await jobs.requeue(s, KIND, subject) == "queued"
        assert await jobs.requeue(s, KIND, uuid.uuid4()) is None
    again = await claim(sessions, "w")
    assert again is not None and again.id == taken.id and again.attempts == 1

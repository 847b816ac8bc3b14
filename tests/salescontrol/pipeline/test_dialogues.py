"""A device's speech becomes dialogues in the database: segments saved once, a
dialogue carried across chunks without duplicates, handed to transcription only
once closed, the same dialogues on a second application, and dialogues of a
recorder that stopped (or stayed silent for long) closed by the housekeeping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import DialogueSettings, JobSettings
from salescontrol.db.models import AudioChunk, Device, Dialogue, Job, SpeechSegment
from salescontrol.pipeline.dialogues import apply_vad, close_idle, dialogue_id
from salescontrol.pipeline.messages import ASR, SpeechSpan, VadResult
from tests.salescontrol.pipeline.fleet import Fleet

T0 = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
CFG = DialogueSettings()
JOBS = JobSettings()


def spans(*pairs: tuple[float, float]) -> VadResult:
    return VadResult(spans=[SpeechSpan(start_s=a, end_s=b) for a, b in pairs])


async def apply(
    sessions: async_sessionmaker[AsyncSession], chunk: uuid.UUID, result: VadResult
) -> bool:
    async with sessions() as session, session.begin():
        return await apply_vad(session, chunk, result, CFG, JOBS)


async def dialogues(sessions: async_sessionmaker[AsyncSession]) -> list[Dialogue]:
    async with sessions() as session:
        return list(await session.scalars(select(Dialogue).order_by(Dialogue.started_at)))


async def asr_jobs(sessions: async_sessionmaker[AsyncSession]) -> set[uuid.UUID]:
    async with sessions() as session:
        return set(await session.scalars(select(Job.subject_id).where(Job.kind == ASR)))


async def segments(sessions: async_sessionmaker[AsyncSession]) -> list[SpeechSegment]:
    async with sessions() as session:
        return list(await session.scalars(select(SpeechSegment).order_by(SpeechSegment.started_at)))


async def test_a_dialogue_across_a_chunk_border_is_one_dialogue_transcribed_once_closed(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet
) -> None:
    first = await fleet.chunk(T0)
    second = await fleet.chunk(T0 + timedelta(seconds=60))

    assert await apply(sessions, first, spans((3, 10), (40, 48), (52, 60)))
    [closed, open_] = await dialogues(sessions)
    assert (closed.state, closed.closed_reason) == ("closed", "silence")
    assert open_.state == "open"
    assert await asr_jobs(sessions) == {closed.id}  # the open one waits

    assert await apply(sessions, second, spans((0, 5), (9, 14)))
    [_, continued] = await dialogues(sessions)
    assert continued.id == open_.id
    assert (continued.started_at, continued.ended_at) == (
        T0 + timedelta(seconds=40),
        T0 + timedelta(seconds=74),
    )
    assert continued.state == "closed" and continued.speech_s == 8 + 8 + 5 + 5
    assert await asr_jobs(sessions) == {closed.id, continued.id}
    # Every segment belongs to exactly one dialogue; none saved twice.
    saved = await segments(sessions)
    assert [(s.chunk_id, s.dialogue_id) for s in saved] == [
        (first, closed.id),
        (first, continued.id),
        (first, continued.id),
        (second, continued.id),
        (second, continued.id),
    ]
    async with sessions() as session:
        device = await session.get(Device, fleet.device_id)
        assert device is not None and device.vad_cursor == T0 + timedelta(seconds=120)
        states = set(await session.scalars(select(AudioChunk.state)))
        assert states == {"processed"}


async def test_applying_a_chunk_again_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet
) -> None:
    chunk = await fleet.chunk(T0)
    assert await apply(sessions, chunk, spans((3, 10)))
    before = [(d.id, d.ended_at, d.state) for d in await dialogues(sessions)]

    assert not await apply(sessions, chunk, spans((3, 10), (20, 30)))

    assert [(d.id, d.ended_at, d.state) for d in await dialogues(sessions)] == before
    assert len(await segments(sessions)) == 1


async def test_dialogue_ids_follow_from_the_device_and_the_start(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet
) -> None:
    chunk = await fleet.chunk(T0)
    await apply(sessions, chunk, spans((3.5, 10)))
    [dialogue] = await dialogues(sessions)
    assert dialogue.id == dialogue_id(fleet.device_id, T0 + timedelta(seconds=3.5))


async def test_a_device_off_for_a_while_closes_its_dialogue_at_the_hole(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet
) -> None:
    first = await fleet.chunk(T0)
    later = await fleet.chunk(T0 + timedelta(minutes=10))
    await apply(sessions, first, spans((50, 59.9)))
    await apply(sessions, later, spans((0.1, 30), (35, 50)))

    [before, after] = await dialogues(sessions)
    assert before.closed_reason == "gap" and before.ended_at == T0 + timedelta(seconds=59.9)
    assert after.state == "open" and after.started_at == T0 + timedelta(minutes=10, seconds=0.1)


async def set_device(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet, **values: object
) -> None:
    async with sessions() as session, session.begin():
        device = await session.get(Device, fleet.device_id)
        assert device is not None
        for name, value in values.items():
            setattr(device, name, value)


def health(recording: bool, queue: int) -> dict[str, object]:
    return {"recording": recording, "queue": queue, "failed": 0, "errors": []}


async def close(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    async with sessions() as session:
        return await close_idle(session, CFG, JOBS, now)


async def open_dialogue(sessions: async_sessionmaker[AsyncSession], fleet: Fleet) -> datetime:
    """A dialogue still open at the end of the device's first chunk; returns now."""
    chunk = await fleet.chunk(T0)
    await apply(sessions, chunk, spans((50, 59.9)))
    return datetime.now(UTC)


async def test_housekeeping_closes_the_dialogue_of_a_stopped_recorder_but_not_a_busy_one(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet
) -> None:
    now = await open_dialogue(sessions, fleet)
    uploaded = now - timedelta(seconds=CFG.idle_close_s + 10)
    # The recorder's heartbeat after its last upload: it stopped, nothing queued.
    await set_device(
        sessions, fleet, last_upload_at=uploaded, last_seen_at=now, last_health=health(False, 0)
    )
    # A chunk waiting for its VAD job: the device is not silent, it is behind.
    waiting = await fleet.chunk(T0 + timedelta(seconds=60), job_cfg=JOBS)
    assert await close(sessions, now) == 0

    async with sessions() as session, session.begin():
        await session.execute(delete(Job).where(Job.subject_id == waiting))
    assert await close(sessions, now) == 1
    [dialogue] = await dialogues(sessions)
    assert (dialogue.state, dialogue.closed_reason) == ("closed", "idle")
    assert await asr_jobs(sessions) == {dialogue.id}
    assert await close(sessions, now) == 0


async def test_a_recorder_still_recording_or_sending_keeps_its_dialogue_open(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet
) -> None:
    now = await open_dialogue(sessions, fleet)
    uploaded = now - timedelta(seconds=CFG.idle_close_s + 10)
    for reported in (None, health(True, 0), health(False, 3)):
        await set_device(
            sessions, fleet, last_upload_at=uploaded, last_seen_at=now, last_health=reported
        )
        assert await close(sessions, now) == 0, reported
    # A heartbeat from before the last upload says nothing about what followed it.
    before = uploaded - timedelta(seconds=1)
    await set_device(sessions, fleet, last_seen_at=before, last_health=health(False, 0))
    assert await close(sessions, now) == 0
    # Nothing uploaded for offline_close_s: closed whatever the device last said.
    late = now + timedelta(seconds=CFG.offline_close_s)
    await set_device(sessions, fleet, last_health=health(True, 5))
    assert await close(sessions, late) == 1
    [dialogue] = await dialogues(sessions)
    assert (dialogue.state, dialogue.closed_reason) == ("closed", "idle")


async def test_a_backlog_after_a_network_outage_continues_the_open_dialogue(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet
) -> None:
    # The network fails mid-dialogue: nothing arrives for longer than idle_close_s
    # (heartbeats fail too), then the recorder uploads its spool in sequence.
    now = await open_dialogue(sessions, fleet)
    await set_device(sessions, fleet, last_upload_at=now - timedelta(seconds=CFG.idle_close_s * 3))
    assert await close(sessions, now) == 0
    second = await fleet.chunk(T0 + timedelta(seconds=60))
    await apply(sessions, second, spans((0, 8)))
    [dialogue] = await dialogues(sessions)
    assert dialogue.started_at == T0 + timedelta(seconds=50)
    assert len(await segments(sessions)) == 2
    assert {s.dialogue_id for s in await segments(sessions)} == {dialogue.id}


async def test_the_unique_keys_refuse_a_chunk_processed_again_past_its_state(
    sessions: async_sessionmaker[AsyncSession], fleet: Fleet
) -> None:
    first = await fleet.chunk(T0)
    second = await fleet.chunk(T0 + timedelta(seconds=60))
    assert await apply(sessions, first, spans((3, 10), (50, 60)))
    assert await apply(sessions, second, spans((0, 5), (30, 40)))
    before = [(d.id, d.started_at, d.ended_at, d.state) for d in await dialogues(sessions)]
    kept = [(s.chunk_id, s.started_at, s.ended_at, s.dialogue_id) for s in await segments(sessions)]

    # Without the state guard (a bug, or a hand-made reset) the same chunk's
    # dialogues and segments collide with their own keys: the transaction fails whole.
    async with sessions() as session, session.begin():
        await session.execute(
            update(AudioChunk).where(AudioChunk.id == first).values(state="stored")
        )
    with pytest.raises(IntegrityError):
        await apply(sessions, first, spans((3, 10), (50, 60)))
    segment = (await segments(sessions))[0]
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            session.add(SpeechSegment(chunk_id=segment.chunk_id, device_id=segment.device_id,
                                      started_at=segment.started_at, ended_at=segment.ended_at,
                                      dialogue_id=segment.dialogue_id))  # fmt: skip

    assert [(d.id, d.started_at, d.ended_at, d.state) for d in await dialogues(sessions)] == before
    assert [
        (s.chunk_id, s.started_at, s.ended_at, s.dialogue_id) for s in await segments(sessions)
    ] == kept

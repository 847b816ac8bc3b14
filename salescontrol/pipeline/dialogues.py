"""Writing the cutter's plans: a chunk's speech becomes segments of dialogues, in
the transaction that finishes the chunk's VAD job.

A chunk is applied once (its state goes `stored` → `processed` under a row lock;
a second application finds it processed and changes nothing), and a device's
chunks are applied one at a time in order: the device row is locked, and the job
queue hands out a device's chunks in start order. A dialogue's id is derived from
its device and start, so the same audio always yields the same dialogues. Each
closed dialogue gets its transcription job in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import DialogueSettings, JobSettings
from salescontrol import jobs
from salescontrol.db.models import AudioChunk, Device, Dialogue, Register, SpeechSegment
from salescontrol.pipeline.cutting import IDLE, Plan, Speech, cut
from salescontrol.pipeline.messages import ASR, VadResult

_NAMESPACE = uuid.UUID("5b0c9a8e-0f3e-4c55-9d3c-6f1d2a7b8e41")


def dialogue_id(device_id: uuid.UUID, started_at: datetime) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{device_id}/{started_at.isoformat()}")


def _speech(chunk: AudioChunk, result: VadResult) -> list[Speech]:
    """The result's spans as instants, inside the chunk."""
    out = []
    for span in result.spans:
        start = chunk.started_at + timedelta(seconds=min(span.start_s, chunk.duration_s))
        end = chunk.started_at + timedelta(seconds=min(span.end_s, chunk.duration_s))
        if end > start:
            out.append(Speech(start, end))
    return out


async def apply_vad(
    session: AsyncSession,
    chunk_id: uuid.UUID,
    result: VadResult,
    cfg: DialogueSettings,
    job_cfg: JobSettings,
) -> bool:
    """Cut the chunk's speech into the device's dialogues; False when the chunk
    was already processed (nothing changes)."""
    chunk = await session.get(AudioChunk, chunk_id, with_for_update=True)
    if chunk is None or chunk.state != "stored":
        return False
    device = await session.get(Device, chunk.device_id, with_for_update=True)
    assert device is not None
    row = await session.scalar(
        select(Dialogue).where(Dialogue.device_id == device.id, Dialogue.state == "open")
    )
    carried = (
        Plan(row.started_at, row.ended_at, row.speech_s, id=row.id) if row is not None else None
    )
    plan = cut(carried, device.vad_cursor, chunk.started_at, chunk.ended_at,
               _speech(chunk, result), cfg)  # fmt: skip
    point_id = await session.scalar(
        select(Register.point_id).where(Register.id == device.register_id)
    )
    for dialogue in plan.plans:
        await _write(session, chunk, device, point_id, dialogue, job_cfg)
    chunk.state = "processed"
    device.vad_cursor = plan.cursor
    return True


async def _write(
    session: AsyncSession,
    chunk: AudioChunk,
    device: Device,
    point_id: uuid.UUID | None,
    plan: Plan,
    job_cfg: JobSettings,
) -> None:
    values = {
        "ended_at": plan.ended_at,
        "speech_s": plan.speech_s,
        "state": "open" if plan.closed is None else "closed",
        "closed_reason": plan.closed,
        "closed_at": None if plan.closed is None else text("now()"),
    }
    if plan.id is None:
        plan.id = dialogue_id(device.id, plan.started_at)
        await session.execute(
            insert(Dialogue).values(
                id=plan.id,
                device_id=device.id,
                register_id=device.register_id,
                point_id=point_id,
                started_at=plan.started_at,
                **values,
            )
        )
    else:
        await session.execute(update(Dialogue).where(Dialogue.id == plan.id).values(**values))
    if plan.added:
        await session.execute(
            insert(SpeechSegment).values(
                [
                    {
                        "chunk_id": chunk.id,
                        "device_id": device.id,
                        "started_at": s.started_at,
                        "ended_at": s.ended_at,
                        "dialogue_id": plan.id,
                    }
                    for s in plan.added
                ]
            )
        )
    if plan.closed is not None:
        await jobs.enqueue(session, ASR, plan.id, job_cfg)


# A silent device is not always a stopped one: a recorder whose network is down
# keeps recording into its spool and later uploads the backlog in sequence, which
# must continue the open dialogue (a hole in the sequence would close it anyway).
# So the short wait applies only when the recorder's last heartbeat, sent after
# its last upload, says it stopped recording and has nothing queued; a device
# that reports nothing at all waits offline_close_s.
_IDLE = text(
    """
    SELECT d.id FROM dialogues d JOIN devices v ON v.id = d.device_id
    WHERE d.state = 'open'
      AND coalesce(v.last_upload_at, d.created_at) < :before
      AND NOT EXISTS (
        SELECT 1 FROM jobs j WHERE j.kind = 'vad' AND j.partition = v.id::text
          AND j.state IN ('queued', 'running'))
      AND (
        coalesce(v.last_upload_at, d.created_at) < :offline_before
        OR (v.last_seen_at > coalesce(v.last_upload_at, d.created_at)
            AND v.last_health ->> 'recording' = 'false'
            AND v.last_health ->> 'queue' = '0'))
    FOR UPDATE OF v SKIP LOCKED
    """
)


async def close_idle(
    session: AsyncSession, cfg: DialogueSettings, job_cfg: JobSettings, now: datetime
) -> int:
    """Close the open dialogues of devices that have no chunk waiting and either
    sent nothing for `idle_close_s` after reporting that they stopped recording
    with an empty queue, or uploaded nothing for `offline_close_s`. Commits."""
    bounds = {
        "before": now - timedelta(seconds=cfg.idle_close_s),
        "offline_before": now - timedelta(seconds=cfg.offline_close_s),
    }
    ids = list((await session.execute(_IDLE, bounds)).scalars())
    if ids:
        await session.execute(
            update(Dialogue)
            .where(Dialogue.id.in_(ids), Dialogue.state == "open")
            .values(state="closed", closed_reason=IDLE, closed_at=text("now()"))
        )
        for dialogue in ids:
            await jobs.enqueue(session, ASR, dialogue, job_cfg)
    await session.commit()
    return len(ids)

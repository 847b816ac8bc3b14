"""What a job's worker needs, read from the database: a chunk to decode, a closed
dialogue's speech, a transcript to judge. The internal HTTP routes serve the same
objects to workers on other hosts."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.db.models import AudioChunk, Dialogue, Point, SpeechSegment, Transcript
from salescontrol.pipeline.messages import (
    ChunkAudio,
    DialogueSpeech,
    DialogueText,
    SpeechPiece,
    TranscriptSegment,
)


class NotReady(LookupError):
    """The job's subject is missing or not in the state its job needs."""


async def chunk_audio(session: AsyncSession, chunk_id: uuid.UUID) -> tuple[ChunkAudio, str]:
    """The chunk and its file (relative to the audio directory)."""
    chunk = await session.get(AudioChunk, chunk_id)
    if chunk is None or chunk.state == "receiving":
        raise NotReady(f"chunk {chunk_id} is not stored")
    info = ChunkAudio(
        chunk_id=chunk.id,
        device_id=chunk.device_id,
        started_at=chunk.started_at,
        duration_s=chunk.duration_s,
    )
    return info, chunk.path


async def dialogue_speech(session: AsyncSession, dialogue_id: uuid.UUID) -> DialogueSpeech:
    dialogue = await session.get(Dialogue, dialogue_id)
    if dialogue is None or dialogue.state != "closed":
        # Transcribing an open dialogue would lose what is said after.
        raise NotReady(f"dialogue {dialogue_id} is not closed")
    rows = await session.execute(
        select(SpeechSegment, AudioChunk.started_at)
        .join(AudioChunk, AudioChunk.id == SpeechSegment.chunk_id)
        .where(SpeechSegment.dialogue_id == dialogue_id)
        .order_by(SpeechSegment.started_at)
    )
    pieces = [
        SpeechPiece(
            chunk_id=segment.chunk_id,
            chunk_started_at=chunk_start,
            start_s=(segment.started_at - chunk_start).total_seconds(),
            end_s=(segment.ended_at - chunk_start).total_seconds(),
        )
        for segment, chunk_start in rows
    ]
    business = await session.scalar(select(Point.business).where(Point.id == dialogue.point_id))
    return DialogueSpeech(
        dialogue_id=dialogue.id,
        started_at=dialogue.started_at,
        ended_at=dialogue.ended_at,
        pieces=pieces,
        business=business,
    )


async def dialogue_text(session: AsyncSession, dialogue_id: uuid.UUID) -> DialogueText:
    row = (
        await session.execute(
            select(Transcript, Dialogue.speech_s, Point.business)
            .join(Dialogue, Dialogue.id == Transcript.dialogue_id)
            .join(Point, Point.id == Dialogue.point_id)
            .where(Transcript.dialogue_id == dialogue_id)
        )
    ).first()
    if row is None:
        raise NotReady(f"dialogue {dialogue_id} has no transcript")
    transcript, speech_s, business = row
    return DialogueText(
        dialogue_id=dialogue_id,
        business=business,
        speech_s=speech_s,
        text=transcript.text,
        segments=[TranscriptSegment.model_validate(s) for s in transcript.segments],
    )

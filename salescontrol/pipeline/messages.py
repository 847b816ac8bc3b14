"""What the workers and the core server exchange, the same in-process and over the
internal HTTP routes: each job's input (read from the database) and result
(written back in the transaction that finishes the job)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

VAD = "vad"
ASR = "asr"
ANALYSIS = "analysis"
Kind = Literal["vad", "asr", "analysis"]
KINDS: tuple[Kind, ...] = ("vad", "asr", "analysis")


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- inputs ------------------------------------------------------------------------


class ChunkAudio(_Message):
    """A stored chunk: what the VAD worker decodes."""

    chunk_id: uuid.UUID
    device_id: uuid.UUID
    started_at: datetime
    duration_s: float


class SpeechPiece(_Message):
    """A speech segment of a dialogue, in its chunk's time (seconds from its start)."""

    chunk_id: uuid.UUID
    chunk_started_at: datetime
    start_s: float
    end_s: float


class DialogueSpeech(_Message):
    """A closed dialogue's speech: what the ASR worker transcribes."""

    dialogue_id: uuid.UUID
    started_at: datetime
    ended_at: datetime
    pieces: list[SpeechPiece]
    business: str | None = None
    """The point's kind of shop (its vocabulary helps the transcription)."""


# --- results -----------------------------------------------------------------------


class SpeechSpan(_Message):
    start_s: float = Field(ge=0)
    end_s: float = Field(ge=0)


class VadResult(_Message):
    kind: Literal["vad"] = "vad"
    spans: list[SpeechSpan]
    """Speech in the chunk, in order, in seconds from the chunk's start."""


class Word(_Message):
    start_s: float
    end_s: float
    word: str
    probability: float


class TranscriptSegment(_Message):
    start_s: float
    end_s: float
    """Seconds from the dialogue's start."""
    text: str
    words: list[Word] = Field(default_factory=list)


class TranscriptResult(_Message):
    kind: Literal["asr"] = "asr"
    text: str
    """Spoken phone and card numbers and IINs masked."""
    segments: list[TranscriptSegment]
    language: str
    model: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    passes: int = Field(default=1, ge=1)


Attempted = Literal["yes", "no", "uncertain"]
Reaction = Literal["accepted", "rejected", "unclear", "none"]


class AnalysisResult(_Message):
    kind: Literal["analysis"] = "analysis"
    status: Literal["done", "skipped"]
    skip_reason: str | None = None
    attempted: Attempted | None = None
    quality: int | None = Field(default=None, ge=0, le=3)
    categories: list[str] = Field(default_factory=list)
    closing_question: str | None = None
    customer_reaction: Reaction | None = None
    evidence: list[str] = Field(default_factory=list)
    summary: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    model: str
    prompt_version: str


# --- the analysis worker's input (a transcript) ----------------------------------


class DialogueText(_Message):
    """A transcribed dialogue: what the analysis worker judges."""

    dialogue_id: uuid.UUID
    business: str
    speech_s: float
    text: str
    segments: list[TranscriptSegment]


JobResult = Annotated[VadResult | TranscriptResult | AnalysisResult, Field(discriminator="kind")]

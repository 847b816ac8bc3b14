"""SalesControl's tables (SQLAlchemy 2 declarative models); the migrations in
`salescontrol/db/migrations` create them.

organisations → points (each with its time zone) → registers → devices (hashed
tokens) → audio chunks (unique per device and start) → speech segments →
dialogues → transcripts → analyses (a row per run) → reviews; users and their
sessions; jobs (what a worker can take, exactly once, with a lease).

Every timestamp is `timestamptz`: an instant, which the point's time zone turns
into a local day and hour when it is shown or counted.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    Time,
    UniqueConstraint,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = _created()


class Point(Base):
    """A shop: its time zone cuts days and hours; its hours say when to record."""

    __tablename__ = "points"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    timezone: Mapped[str] = mapped_column(Text, nullable=False)
    business: Mapped[str] = mapped_column(Text, nullable=False, server_default="coffee_shop")
    opens_at: Mapped[time | None] = mapped_column(Time)
    closes_at: Mapped[time | None] = mapped_column(Time)
    created_at: Mapped[datetime] = _created()


class Register(Base):
    __tablename__ = "registers"
    __table_args__ = (UniqueConstraint("point_id", "name"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    point_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("points.id", ondelete="RESTRICT"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _created()


class Device(Base):
    """A recorder. Its token is `<token_id>.<secret>`: the id finds the row, the
    secret is kept only as a salted HMAC. Its name is unique at its register: the
    recorder's config names its device, and two of one name would be
    indistinguishable on the devices page (migration 0006)."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("register_id", "name"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    register_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registers.id", ondelete="RESTRICT"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    token_id: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    token_salt: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = _created()
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_upload_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_health: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    vad_cursor: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """The end of the last chunk whose speech was cut into dialogues (in order):
    a later chunk starting well after it means the device was off."""


class AudioChunk(Base):
    """One recorded chunk, stored once: unique per device and client id (the
    upload's idempotency key) and per device and start."""

    __tablename__ = "audio_chunks"
    __table_args__ = (
        UniqueConstraint("device_id", "client_id"),
        UniqueConstraint("device_id", "started_at"),
        CheckConstraint("ended_at > started_at", name="chunk_has_length"),
        CheckConstraint(
            "state IN ('receiving', 'stored', 'processed', 'failed')", name="chunk_state"
        ),
        Index("audio_chunks_device_time", "device_id", "started_at"),
        # The start-up's settle and the retention round (migration 0005).
        Index("audio_chunks_receiving", "id", postgresql_where=text("state = 'receiving'")),
        Index(
            "audio_chunks_to_purge",
            "ended_at",
            postgresql_where=text("purged_at IS NULL AND state IN ('processed', 'failed')"),
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="RESTRICT"), nullable=False
    )
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    duration_s: Mapped[float] = mapped_column(Double, nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(Text, nullable=False)
    codec: Mapped[str] = mapped_column(Text, nullable=False)
    sample_rate: Mapped[int] = mapped_column(Integer, nullable=False)
    channels: Mapped[int] = mapped_column(Integer, nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    """Relative to the audio directory."""
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="stored")
    """receiving → stored → processed (its speech found and cut into dialogues),
    or failed once its job has no attempts left."""
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When its file was deleted at the end of the retention period (the row stays)."""
    created_at: Mapped[datetime] = _created()


class Job(Base):
    """Work a worker can take: claimed by one worker at a time under a lease that
    expires, retried with backoff, dead after its attempts (salescontrol.jobs)."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id"),
        CheckConstraint("state IN ('queued', 'running', 'done', 'dead')", name="job_state"),
        Index("jobs_ready", "kind", "state", "available_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    subject_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    partition: Mapped[str | None] = mapped_column(Text)
    """Jobs of one partition run in the order of `position`, one at a time (a
    device's chunks); None: any order."""
    position: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    available_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    lease_owner: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class SpeechSegment(Base):
    __tablename__ = "speech_segments"
    __table_args__ = (
        UniqueConstraint("chunk_id", "started_at"),
        Index("speech_segments_device_time", "device_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    chunk_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("audio_chunks.id", ondelete="CASCADE"), nullable=False
    )
    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="RESTRICT"), nullable=False
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    dialogue_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("dialogues.id", ondelete="SET NULL")
    )


class Dialogue(Base):
    """Seller–customer speech without a long silence, on one device."""

    __tablename__ = "dialogues"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'closed')", name="dialogue_state"),
        CheckConstraint(
            "(state = 'open') = (closed_reason IS NULL)", name="dialogue_closed_has_reason"
        ),
        Index("dialogues_device_time", "device_id", "started_at"),
        Index("dialogues_point_time", "point_id", "started_at"),
        # Periods across all points; the dashboard's list, newest first.
        Index("dialogues_time", "started_at", "id"),
        # The cutter carries one open dialogue per device from chunk to chunk.
        Index(
            "dialogues_one_open", "device_id", unique=True, postgresql_where=text("state = 'open'")
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("devices.id", ondelete="RESTRICT"), nullable=False
    )
    register_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registers.id", ondelete="RESTRICT"), nullable=False
    )
    point_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("points.id", ondelete="RESTRICT"), nullable=False
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="open")
    speech_s: Mapped[float] = mapped_column(Double, nullable=False, server_default="0")
    """The length of its speech segments."""
    closed_reason: Mapped[str | None] = mapped_column(Text)
    """silence, max_length, gap (the device was off), idle (nothing came for long)."""
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()


class Transcript(Base):
    __tablename__ = "transcripts"
    __table_args__ = (
        # The dashboard's text search uses exactly this expression.
        Index(
            "transcripts_text_search",
            func.to_tsvector(literal_column("'russian'"), literal_column("text")),
            postgresql_using="gin",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    dialogue_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("dialogues.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    text: Mapped[str] = mapped_column(Text, nullable=False)
    """With spoken phone and card numbers and IINs masked."""
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    """[{start_s, end_s, text, words: [{start_s, end_s, word, probability}]}], times
    relative to the dialogue's start."""
    language: Mapped[str] = mapped_column(Text, nullable=False)
    model: Mapped[str] = mapped_column(Text, nullable=False)
    """The model whose text this is (the second pass's when it ran)."""
    avg_logprob: Mapped[float | None] = mapped_column(Double)
    no_speech_prob: Mapped[float | None] = mapped_column(Double)
    passes: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    created_at: Mapped[datetime] = _created()


class Analysis(Base):
    """One run of the upsell analysis; a re-run adds a row and the earlier ones stay
    as history, `current` marking the one shown. A dialogue with too little speech
    gets a `skipped` row with the reason instead of a judgement."""

    __tablename__ = "analyses"
    __table_args__ = (
        UniqueConstraint("dialogue_id", "run"),
        CheckConstraint("status IN ('done', 'skipped')", name="analysis_status"),
        CheckConstraint(
            "status = 'skipped' OR (attempted IS NOT NULL AND quality IS NOT NULL "
            "AND customer_reaction IS NOT NULL)",
            name="analysis_done_is_complete",
        ),
        CheckConstraint("attempted IN ('yes', 'no', 'uncertain')", name="analysis_attempted"),
        CheckConstraint(
            "customer_reaction IN ('accepted', 'rejected', 'unclear', 'none')",
            name="analysis_reaction",
        ),
        CheckConstraint("quality BETWEEN 0 AND 3", name="analysis_quality"),
        CheckConstraint("confidence BETWEEN 0 AND 1", name="analysis_confidence"),
        # Covering: a period's current analyses are counted from the index alone.
        Index(
            "analyses_one_current",
            "dialogue_id",
            unique=True,
            postgresql_where=text("current"),
            postgresql_include=[
                "status",
                "attempted",
                "customer_reaction",
                "quality",
                "categories",
            ],
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    dialogue_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("dialogues.id", ondelete="CASCADE"), nullable=False
    )
    run: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    attempted: Mapped[str | None] = mapped_column(Text)
    quality: Mapped[int | None] = mapped_column(Integer)
    categories: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'")
    )
    closing_question: Mapped[str | None] = mapped_column(Text)
    """The seller's offer as asked ("Большой или средний?")."""
    customer_reaction: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    """Quotes of the transcript that show the attempt (checked to occur in it)."""
    summary: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Double)
    model: Mapped[str] = mapped_column(Text, nullable=False)
    prompt_version: Mapped[str] = mapped_column(Text, nullable=False)
    current: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = _created()


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'viewer')", name="user_role"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    login: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    """argon2id, with its own salt and parameters."""
    role: Mapped[str] = mapped_column(Text, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = _created()
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Session(Base):
    """A login: the token is kept only as a hash; it ends at `expires_at` or logout."""

    __tablename__ = "sessions"

    id: Mapped[uuid.UUID] = _uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, unique=True)
    csrf_token: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Review(Base):
    """A person's flag on a dialogue's analysis, its corrections and resolution."""

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved')", name="review_status"),
        Index("reviews_dialogue", "dialogue_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    dialogue_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("dialogues.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="open")
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    corrections: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = _created()
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT")
    )


class DialogueStat(Base):
    """The overview's counts per register, local day and local hour (the point's
    zone), kept by triggers on dialogues, analyses and points (migration 0004):
    nothing in Python writes them."""

    __tablename__ = "dialogue_stats"
    __table_args__ = (Index("dialogue_stats_day", "day"),)

    register_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registers.id", ondelete="CASCADE"), primary_key=True
    )
    point_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("points.id", ondelete="CASCADE"), nullable=False
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    dialogues: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    analysed: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    """With a current analysis of status `done`."""
    skipped: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    attempted: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    accepted: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    quality_sum: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class CategoryStat(Base):
    """Upsell offers per register, local day and category (of attempted, analysed
    dialogues), and how many were accepted; kept by the same triggers."""

    __tablename__ = "category_stats"
    __table_args__ = (Index("category_stats_day", "day"),)

    register_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("registers.id", ondelete="CASCADE"), primary_key=True
    )
    point_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("points.id", ondelete="CASCADE"), nullable=False
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    category: Mapped[str] = mapped_column(Text, primary_key=True)
    offers: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    accepted: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")

"""The dialogue list (filters, newest first, a page at a time) and one dialogue with
everything its page shows.

The list never counts the whole table: a page is read with LIMIT/OFFSET (one row
more than the page tells whether a next one exists; deep pages are capped) and the
total is counted only up to `COUNT_LIMIT`, so that a period of 100,000 dialogues
costs as much as one of a thousand ("более 1000").

The text search is PostgreSQL's, with the `russian` configuration (word forms
stemmed): `to_tsvector('russian', transcripts.text) @@ websearch_to_tsquery(...)`,
written exactly so, since the GIN index is built on that expression.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnClause, Select, and_, case, exists, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.dashboard.periods import Period
from salescontrol.db.models import (
    Analysis,
    AudioChunk,
    Device,
    Dialogue,
    Point,
    Register,
    Review,
    Transcript,
    User,
)

COUNT_LIMIT = 1000
MAX_PAGE = 200
"""Pages beyond this are not offered: nobody reads 10,000 rows one by one, and a
deep OFFSET reads every row before it."""
LONGEST_CHUNK = timedelta(hours=1)
"""No stored chunk is longer: the ingest refuses one over `ingest.max_chunk_s`,
which is at most 3600 s (core/settings/salescontrol.py)."""
REVIEW_FILTERS = ("none", "open", "resolved")
ATTEMPTED_VALUES = ("yes", "no", "uncertain")
REACTION_VALUES = ("accepted", "rejected", "unclear", "none")
QUALITY_VALUES = (0, 1, 2, 3)

_RUSSIAN: ColumnClause[Any] = literal_column("'russian'")


@dataclass(frozen=True, slots=True)
class DialogueFilters:
    """What the list is narrowed by; None means any."""

    period: Period
    point_id: uuid.UUID | None = None
    register_id: uuid.UUID | None = None
    attempted: str | None = None
    category: str | None = None
    reaction: str | None = None
    quality: int | None = None
    review: str | None = None
    """none (never flagged), open (a review is open), resolved (all resolved)."""
    text: str | None = None
    """Words to find in the transcript (web search syntax: "quoted phrase", -word, or)."""


@dataclass(frozen=True, slots=True)
class DialogueRow:
    id: uuid.UUID
    started_at: datetime
    ended_at: datetime
    state: str
    timezone: str
    business: str
    point: str
    register: str
    analysis_status: str | None
    attempted: str | None
    quality: int | None
    categories: list[str]
    reaction: str | None
    summary: str | None
    review: str
    """none, open or resolved."""

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class DialoguePage:
    rows: list[DialogueRow]
    page: int
    has_next: bool
    total: int
    """Counted up to COUNT_LIMIT + 1: more than COUNT_LIMIT means "more than"."""

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def total_capped(self) -> bool:
        return self.total > COUNT_LIMIT


def _has_review(*conditions: Any) -> Any:
    return exists().where(Review.dialogue_id == Dialogue.id, *conditions)


def _review_state() -> Any:
    return case(
        (_has_review(Review.status == "open"), "open"),
        (_has_review(), "resolved"),
        else_="none",
    )


def text_match(text: str) -> Any:
    """SQL: the transcript holds these words (in any of their forms)."""
    return func.to_tsvector(_RUSSIAN, Transcript.text).op("@@")(
        func.websearch_to_tsquery(_RUSSIAN, text)
    )


def _filtered(columns: list[Any], filters: DialogueFilters) -> Select[Any]:
    query = (
        select(*columns)
        .select_from(Dialogue)
        .join(Point, Point.id == Dialogue.point_id)
        .outerjoin(Analysis, and_(Analysis.dialogue_id == Dialogue.id, Analysis.current))
        .where(filters.period.contains(Dialogue.started_at, Point.timezone))
    )
    if filters.point_id is not None:
        query = query.where(Dialogue.point_id == filters.point_id)
    if filters.register_id is not None:
        query = query.where(Dialogue.register_id == filters.register_id)
    if filters.attempted is not None:
        query = query.where(Analysis.attempted == filters.attempted)
    if filters.category is not None:
        query = query.where(Analysis.categories.contains([filters.category]))
    if filters.reaction is not None:
        query = query.where(Analysis.customer_reaction == filters.reaction)
    if filters.quality is not None:
        query = query.where(Analysis.quality == filters.quality)
    if filters.review == "none":
        query = query.where(~_has_review())
    elif filters.review == "open":
        query = query.where(_has_review(Review.status == "open"))
    elif filters.review == "resolved":
        query = query.where(_has_review(), ~_has_review(Review.status == "open"))
    if filters.text:
        query = query.join(Transcript, Transcript.dialogue_id == Dialogue.id).where(
            text_match(filters.text)
        )
    return query


async def list_dialogues(
    db: AsyncSession, filters: DialogueFilters, page: int, page_size: int
) -> DialoguePage:
    """One page (from 1, at most MAX_PAGE) of the dialogues that pass `filters`,
    newest first."""
    page = min(max(page, 1), MAX_PAGE)
    query = (
        _filtered(
            [
                Dialogue.id,
                Dialogue.started_at,
                Dialogue.ended_at,
                Dialogue.state,
                Point.timezone,
                Point.business,
                Point.name.label("point"),
                Register.name.label("register"),
                Analysis.status.label("analysis_status"),
                Analysis.attempted,
                Analysis.quality,
                Analysis.categories,
                Analysis.customer_reaction.label("reaction"),
                Analysis.summary,
                _review_state().label("review"),
            ],
            filters,
        )
        .join(Register, Register.id == Dialogue.register_id)
        .order_by(Dialogue.started_at.desc(), Dialogue.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size + 1)
    )
    found = (await db.execute(query)).all()
    rows = [
        DialogueRow(**{**row._asdict(), "categories": list(row.categories or [])})
        for row in found[:page_size]
    ]
    has_next = len(found) > page_size and page < MAX_PAGE
    if not has_next and (rows or page == 1):
        # The last page: the total is known without counting.
        total = (page - 1) * page_size + len(rows)
    else:
        bounded = _filtered([Dialogue.id], filters).limit(COUNT_LIMIT + 1).subquery()
        total = await db.scalar(select(func.count()).select_from(bounded)) or 0
    return DialoguePage(rows, page, has_next, total)


@dataclass(frozen=True, slots=True)
class PointOption:
    id: uuid.UUID
    name: str
    business: str


@dataclass(frozen=True, slots=True)
class RegisterOption:
    id: uuid.UUID
    point_id: uuid.UUID
    name: str
    point: str


@dataclass(frozen=True, slots=True)
class FilterOptions:
    points: list[PointOption]
    registers: list[RegisterOption]


async def filter_options(db: AsyncSession) -> FilterOptions:
    """The points and registers to choose from (small tables, read whole)."""
    points = (
        await db.execute(select(Point.id, Point.name, Point.business).order_by(Point.name))
    ).all()
    registers = (
        await db.execute(
            select(Register.id, Register.point_id, Register.name, Point.name.label("point"))
            .join(Point, Point.id == Register.point_id)
            .order_by(Point.name, Register.name)
        )
    ).all()
    return FilterOptions(
        [PointOption(**row._asdict()) for row in points],
        [RegisterOption(**row._asdict()) for row in registers],
    )


@dataclass
class DialogueDetail:
    dialogue: Dialogue
    point: Point
    register: Register
    device: Device
    transcript: Transcript | None
    analysis: Analysis | None
    """The current analysis."""
    history: list[Analysis]
    """Earlier runs, the latest first."""
    reviews: list[Review]
    """The latest first."""
    people: dict[uuid.UUID, str] = field(default_factory=dict)
    """Logins of the reviews' authors and resolvers."""


async def dialogue_detail(db: AsyncSession, dialogue_id: uuid.UUID) -> DialogueDetail | None:
    found = (
        await db.execute(
            select(Dialogue, Point, Register, Device, Transcript)
            .join(Point, Point.id == Dialogue.point_id)
            .join(Register, Register.id == Dialogue.register_id)
            .join(Device, Device.id == Dialogue.device_id)
            .outerjoin(Transcript, Transcript.dialogue_id == Dialogue.id)
            .where(Dialogue.id == dialogue_id)
        )
    ).first()
    if found is None:
        return None
    dialogue, point, register, device, transcript = found
    analyses = (
        await db.scalars(
            select(Analysis)
            .where(Analysis.dialogue_id == dialogue_id)
            .order_by(Analysis.run.desc())
        )
    ).all()
    reviews = (
        await db.scalars(
            select(Review)
            .where(Review.dialogue_id == dialogue_id)
            .order_by(Review.created_at.desc(), Review.id.desc())
        )
    ).all()
    people_ids = {r.user_id for r in reviews} | {r.resolved_by for r in reviews if r.resolved_by}
    people = (
        dict((await db.execute(select(User.id, User.login).where(User.id.in_(people_ids)))).all())
        if people_ids
        else {}
    )
    current = next((a for a in analyses if a.current), None)
    return DialogueDetail(
        dialogue=dialogue,
        point=point,
        register=register,
        device=device,
        transcript=transcript,
        analysis=current,
        history=[a for a in analyses if a is not current],
        reviews=list(reviews),
        people=people,
    )


async def dialogue_span(
    db: AsyncSession, dialogue_id: uuid.UUID, end_pad: timedelta
) -> tuple[Dialogue, list[AudioChunk]] | None:
    """A dialogue and its device's chunks (still on disk) that overlap its span
    extended by `end_pad`, in order."""
    dialogue = await db.get(Dialogue, dialogue_id)
    if dialogue is None:
        return None
    chunks = (
        await db.scalars(
            select(AudioChunk)
            .where(
                AudioChunk.device_id == dialogue.device_id,
                # A lower bound too, or the (device, start) index is read from the
                # device's first chunk on: 75,000 entries after 90 days of recording.
                AudioChunk.started_at > dialogue.started_at - LONGEST_CHUNK,
                AudioChunk.started_at < dialogue.ended_at + end_pad,
                AudioChunk.ended_at > dialogue.started_at,
                AudioChunk.state != "receiving",
                AudioChunk.purged_at.is_(None),
            )
            .order_by(AudioChunk.started_at)
        )
    ).all()
    return dialogue, list(chunks)

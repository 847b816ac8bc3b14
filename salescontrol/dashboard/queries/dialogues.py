"""The dialogue list (filters, newest first, a page at a time) and one dialogue with
everything its page shows.

The list never counts the whole table: the matches are counted only up to
`COUNT_LIMIT` ("более 1000"), or, for a text search, only as far as the page; a
page is read by its ids first (one more than the page tells whether a next one
exists; deep pages are capped), then its rows whole.

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
    more: bool
    """More dialogues match than `total` (they were not counted)."""

    @property
    def has_previous(self) -> bool:
        return self.page > 1


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


def _matching(filters: DialogueFilters) -> Select[Any]:
    """SQL: the ids of the dialogues that pass `filters`, newest first. The current
    analysis is joined only when a filter asks about it (through the index that
    covers its figures)."""
    query = (
        select(Dialogue.id)
        .join(Point, Point.id == Dialogue.point_id)
        .where(filters.period.contains(Dialogue.started_at, Point.timezone))
        .order_by(Dialogue.started_at.desc(), Dialogue.id.desc())
    )
    analysed = [
        condition
        for given, condition in (
            (filters.attempted, Analysis.attempted == filters.attempted),
            (filters.category, Analysis.categories.contains([filters.category])),
            (filters.reaction, Analysis.customer_reaction == filters.reaction),
            (filters.quality, Analysis.quality == filters.quality),
        )
        if given is not None
    ]
    if analysed:
        query = query.join(
            Analysis, and_(Analysis.dialogue_id == Dialogue.id, Analysis.current)
        ).where(*analysed)
    if filters.point_id is not None:
        query = query.where(Dialogue.point_id == filters.point_id)
    if filters.register_id is not None:
        query = query.where(Dialogue.register_id == filters.register_id)
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


async def _rows(db: AsyncSession, ids: list[uuid.UUID]) -> list[DialogueRow]:
    """What the list shows of these dialogues, in the order of `ids`."""
    if not ids:
        return []
    found = await db.execute(
        select(
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
        )
        .join(Point, Point.id == Dialogue.point_id)
        .join(Register, Register.id == Dialogue.register_id)
        .outerjoin(Analysis, and_(Analysis.dialogue_id == Dialogue.id, Analysis.current))
        .where(Dialogue.id.in_(ids))
    )
    by_id = {
        row.id: DialogueRow(**{**row._asdict(), "categories": list(row.categories or [])})
        for row in found
    }
    return [by_id[i] for i in ids if i in by_id]


async def list_dialogues(
    db: AsyncSession, filters: DialogueFilters, page: int, page_size: int
) -> DialoguePage:
    """One page (from 1, at most MAX_PAGE) of the dialogues that pass `filters`,
    newest first, and how many there are — counted only as far as it is cheap.

    Without a text search, the ids of the first COUNT_LIMIT + 1 matches are read in
    one pass: the count (up to the bound) and the page both come from it, so a
    filter that matches few dialogues scans the period once, not once for the page
    and again for the count. A text search has to stem every transcript it looks
    at, so it reads only as far as the page (the total is exact on the last page,
    "more than" before it); so does a page beyond the bound. Only the page's rows
    are then read whole."""
    page = min(max(page, 1), MAX_PAGE)
    offset = (page - 1) * page_size
    matching = _matching(filters)
    if not filters.text and offset + page_size < COUNT_LIMIT + 1:
        ids = list((await db.scalars(matching.limit(COUNT_LIMIT + 1))).all())
        page_ids = ids[offset : offset + page_size]
        has_next = len(ids) > offset + page_size
        total, more = min(len(ids), COUNT_LIMIT), len(ids) > COUNT_LIMIT
    else:
        ids = list((await db.scalars(matching.offset(offset).limit(page_size + 1))).all())
        page_ids = ids[:page_size]
        has_next = len(ids) > page_size
        total, more = offset + len(page_ids), has_next
        if not ids and page > 1:
            # Past the end: how far the matches went.
            bounded = matching.limit(COUNT_LIMIT + 1).subquery()
            counted = await db.scalar(select(func.count()).select_from(bounded)) or 0
            total, more = min(counted, COUNT_LIMIT), counted > COUNT_LIMIT
    return DialoguePage(await _rows(db, page_ids), page, has_next and page < MAX_PAGE, total, more)


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

"""The overview's figures: dialogues, upsell attempt rate, average quality and
acceptance rate for a period of local days — in total, for the previous period of
the same length, and by local day, local hour, point, register and category.

Every dialogue counts on the day and hour of its own point's zone. A dialogue is
judged by its current analysis: one with status `done` counts in the rates; a
`skipped` one (too little speech) or one not analysed yet counts as a dialogue only.

Four queries whatever the period: the series in one pass (GROUPING SETS), the
previous period's totals, the categories (the analysis' array unnested) and the
points and registers for names and filters. Each starts from the dialogues' time
bound (see periods.Period.contains) and reaches the current analysis through its
partial unique index.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.dashboard.periods import Period, local_date, local_hour
from salescontrol.db.models import Analysis, Dialogue, Point, Register

HOURS = range(24)


@dataclass(frozen=True, slots=True)
class Figures:
    """Counts of a set of dialogues, from which the rates follow."""

    dialogues: int = 0
    analysed: int = 0
    """With a current analysis of status `done`: the base of the rates."""
    skipped: int = 0
    attempted: int = 0
    """Analysed with attempted = 'yes'."""
    accepted: int = 0
    """Attempted, and the customer accepted."""
    quality_sum: int = 0

    @property
    def pending(self) -> int:
        """Not analysed yet (open, or waiting for transcription or analysis)."""
        return self.dialogues - self.analysed - self.skipped

    @property
    def attempt_rate(self) -> float | None:
        return self.attempted / self.analysed if self.analysed else None

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.attempted if self.attempted else None

    @property
    def quality(self) -> float | None:
        """Average quality (0-3) of the analysed dialogues."""
        return self.quality_sum / self.analysed if self.analysed else None

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.dialogues + other.dialogues,
            self.analysed + other.analysed,
            self.skipped + other.skipped,
            self.attempted + other.attempted,
            self.accepted + other.accepted,
            self.quality_sum + other.quality_sum,
        )


@dataclass(frozen=True, slots=True)
class Place:
    """A point or a register, as the filters and the charts name it."""

    id: uuid.UUID
    name: str
    point_id: uuid.UUID
    timezone: str


@dataclass(frozen=True, slots=True)
class Places:
    points: list[Place]
    registers: list[Place]
    """Ordered by point, then name; `name` is the register's own."""
    business: dict[uuid.UUID, str]
    """A point's kind of shop."""

    def point(self, point_id: uuid.UUID | None) -> Place | None:
        return next((p for p in self.points if p.id == point_id), None)

    def register(self, register_id: uuid.UUID | None) -> Place | None:
        return next((r for r in self.registers if r.id == register_id), None)


@dataclass(frozen=True, slots=True)
class Scope:
    """What the overview looks at: a period and optionally one point or register."""

    period: Period
    point_id: uuid.UUID | None = None
    register_id: uuid.UUID | None = None

    def where(self, period: Period | None = None) -> list[ColumnElement[bool]]:
        conditions = [(period or self.period).contains(Dialogue.started_at, Point.timezone)]
        if self.point_id is not None:
            conditions.append(Dialogue.point_id == self.point_id)
        if self.register_id is not None:
            conditions.append(Dialogue.register_id == self.register_id)
        return conditions


@dataclass(frozen=True, slots=True)
class CategoryCount:
    business: str
    code: str
    offers: int
    """Analysed dialogues whose attempt offered this category."""
    accepted: int


@dataclass
class Overview:
    scope: Scope
    total: Figures
    previous: Figures
    by_day: dict[date, Figures]
    """Every day of the period, in order (zero figures on a day without dialogues)."""
    by_hour: dict[int, Figures]
    """0..23."""
    by_point: dict[uuid.UUID, Figures]
    by_register: dict[uuid.UUID, Figures]
    categories: list[CategoryCount]
    """Most offered first."""
    places: Places = field(repr=False)


def _figures_columns() -> list[Any]:
    done = Analysis.status == "done"
    attempted = and_(done, Analysis.attempted == "yes")
    return [
        func.count().label("dialogues"),
        func.count().filter(done).label("analysed"),
        func.count().filter(Analysis.status == "skipped").label("skipped"),
        func.count().filter(attempted).label("attempted"),
        func.count().filter(attempted, Analysis.customer_reaction == "accepted").label("accepted"),
        func.coalesce(func.sum(Analysis.quality).filter(done), 0).label("quality_sum"),
    ]


def _figures(row: Any) -> Figures:
    return Figures(
        row.dialogues, row.analysed, row.skipped, row.attempted, row.accepted, row.quality_sum
    )


def _dialogues(*columns: Any) -> Select[Any]:
    """Dialogues with their point (its zone) and their current analysis, if any."""
    return (
        select(*columns)
        .select_from(Dialogue)
        .join(Point, Point.id == Dialogue.point_id)
        .outerjoin(Analysis, and_(Analysis.dialogue_id == Dialogue.id, Analysis.current))
    )


async def _series(db: AsyncSession, scope: Scope) -> list[Any]:
    day = local_date(Dialogue.started_at, Point.timezone).label("day")
    hour = local_hour(Dialogue.started_at, Point.timezone).label("hour")
    # No column is ever null, so a row's one non-null key tells its grouping set.
    statement = (
        _dialogues(day, hour, Dialogue.point_id, Dialogue.register_id, *_figures_columns())
        .where(*scope.where())
        .group_by(
            func.grouping_sets(day.element, hour.element, Dialogue.point_id, Dialogue.register_id)
        )
    )
    return list((await db.execute(statement)).all())


async def _totals(db: AsyncSession, scope: Scope, period: Period) -> Figures:
    row = (await db.execute(_dialogues(*_figures_columns()).where(*scope.where(period)))).one()
    return _figures(row)


async def _categories(db: AsyncSession, scope: Scope) -> list[CategoryCount]:
    offered = (
        _dialogues(
            Point.business.label("business"),
            func.unnest(Analysis.categories).label("code"),
            Analysis.customer_reaction.label("reaction"),
        )
        .where(*scope.where(), Analysis.status == "done", Analysis.attempted == "yes")
        .subquery()
    )
    statement = (
        select(
            offered.c.business,
            offered.c.code,
            func.count().label("offers"),
            func.count().filter(offered.c.reaction == "accepted").label("accepted"),
        )
        .group_by(offered.c.business, offered.c.code)
        .order_by(func.count().desc(), offered.c.code)
    )
    return [CategoryCount(*row) for row in (await db.execute(statement)).all()]


async def places(db: AsyncSession) -> Places:
    """All points and registers (a chain has tens, not thousands)."""
    rows = (
        await db.execute(
            select(Point.id, Point.name, Point.timezone, Point.business, Register.id, Register.name)
            .outerjoin(Register, Register.point_id == Point.id)
            .order_by(Point.name, Point.id, Register.name)
        )
    ).all()
    points: dict[uuid.UUID, Place] = {}
    registers: list[Place] = []
    business: dict[uuid.UUID, str] = {}
    for point_id, point_name, zone, kind, register_id, register_name in rows:
        points.setdefault(point_id, Place(point_id, point_name, point_id, zone))
        business[point_id] = kind
        if register_id is not None:
            registers.append(Place(register_id, register_name, point_id, zone))
    return Places(list(points.values()), registers, business)


async def overview(db: AsyncSession, scope: Scope, known: Places | None = None) -> Overview:
    """The overview of `scope`: its totals, the previous period's and the series."""
    known = known or await places(db)
    by_day = {day: Figures() for day in scope.period.dates()}
    by_hour = {hour: Figures() for hour in HOURS}
    by_point: dict[uuid.UUID, Figures] = {}
    by_register: dict[uuid.UUID, Figures] = {}
    for row in await _series(db, scope):
        figures = _figures(row)
        if row.day is not None:
            by_day[row.day] = figures
        elif row.hour is not None:
            by_hour[row.hour] = figures
        elif row.point_id is not None:
            by_point[row.point_id] = figures
        else:
            by_register[row.register_id] = figures
    return Overview(
        scope=scope,
        total=sum(by_point.values(), Figures()),
        previous=await _totals(db, scope, scope.period.previous()),
        by_day=by_day,
        by_hour=by_hour,
        by_point=by_point,
        by_register=by_register,
        categories=await _categories(db, scope),
        places=known,
    )

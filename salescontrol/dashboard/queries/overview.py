"""The overview's figures: dialogues, upsell attempt rate, average quality and
acceptance rate for a period of local days — in total, for the previous period of
the same length, and by local day, local hour, point, register and category.

Every dialogue counts on the day and hour of its own point's zone. A dialogue is
judged by its current analysis: one with status `done` counts in the rates; a
`skipped` one (too little speech) or one not analysed yet counts as a dialogue only.

Two queries whatever the period: the points and registers (names and filters), and
the figures — read from the counts the database keeps per register, local day and
local hour (`dialogue_stats`, `category_stats`, migration 0004's triggers), so a
90-day overview sums a few thousand rows, not 100,000 dialogues; the period and the
previous one at once, in every grouping the page shows (GROUPING SETS).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    func,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.dashboard.periods import Period
from salescontrol.db.models import CategoryStat, DialogueStat, Point, Register

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

    def where(self, table: Any, first: date) -> list[ColumnElement[bool]]:
        """Rows of a stats table from `first` to the period's last day, in scope."""
        conditions = [table.day >= first, table.day <= self.period.last]
        if self.point_id is not None:
            conditions.append(table.point_id == self.point_id)
        if self.register_id is not None:
            conditions.append(table.register_id == self.register_id)
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


def _figures(row: Any) -> Figures:
    return Figures(
        row.dialogues, row.analysed, row.skipped, row.attempted, row.accepted, row.quality_sum
    )


def _statement(scope: Scope) -> Select[Any]:
    """The period's and the previous period's counts (`now` tells them apart),
    summed at once in every grouping the page shows."""
    stat = DialogueStat
    now = stat.day >= scope.period.first
    sums = [
        func.sum(getattr(stat, name)).label(name)
        for name in ("dialogues", "analysed", "skipped", "attempted", "accepted", "quality_sum")
    ]
    return (
        select(now.label("now"), stat.day, stat.hour, stat.point_id, stat.register_id, *sums)
        .where(*scope.where(stat, scope.period.previous().first))
        .group_by(
            func.grouping_sets(
                tuple_(now),
                tuple_(now, stat.day),
                tuple_(now, stat.hour),
                tuple_(now, stat.point_id),
                tuple_(now, stat.register_id),
            )
        )
    )


def _categories(scope: Scope) -> Select[str, str, int, int]:
    """The period's offers and acceptances per kind of shop and category."""
    stat = CategoryStat
    return (
        select(
            Point.business,
            stat.category,
            func.sum(stat.offers).label("offers"),
            func.sum(stat.accepted).label("accepted"),
        )
        .join(Point, Point.id == stat.point_id)
        .where(*scope.where(stat, scope.period.first))
        .group_by(Point.business, stat.category)
        .having(func.sum(stat.offers) > 0)
    )


async def places(db: AsyncSession) -> Places:
    """All points and registers (a chain has tens, not thousands)."""
    rows = (
        await db.execute(
            select(Point.id, Point.name, Point.timezone, Register.id, Register.name)
            .outerjoin(Register, Register.point_id == Point.id)
            .order_by(Point.name, Point.id, Register.name)
        )
    ).all()
    points: dict[uuid.UUID, Place] = {}
    registers: list[Place] = []
    for point_id, point_name, zone, register_id, register_name in rows:
        points.setdefault(point_id, Place(point_id, point_name, point_id, zone))
        if register_id is not None:
            registers.append(Place(register_id, register_name, point_id, zone))
    return Places(list(points.values()), registers)


async def overview(db: AsyncSession, scope: Scope, known: Places | None = None) -> Overview:
    """The overview of `scope`: its totals, the previous period's and the series."""
    known = known or await places(db)
    seen = Overview(
        scope=scope,
        total=Figures(),
        previous=Figures(),
        by_day={day: Figures() for day in scope.period.dates()},
        by_hour={hour: Figures() for hour in HOURS},
        by_point={},
        by_register={},
        categories=[],
        places=known,
    )
    # No key column is ever null, so a row's one non-null key (after `now`) names
    # its grouping set; none at all: the totals.
    for row in (await db.execute(_statement(scope))).all():
        figures = _figures(row)
        if (row.day, row.hour, row.point_id, row.register_id) == (None,) * 4:
            if row.now:
                seen.total = figures
            else:
                seen.previous = figures
        elif not row.now:
            continue  # the previous period's series are not shown
        elif row.day is not None:
            seen.by_day[row.day] = figures
        elif row.hour is not None:
            seen.by_hour[row.hour] = figures
        elif row.point_id is not None:
            seen.by_point[row.point_id] = figures
        else:
            seen.by_register[row.register_id] = figures
    seen.categories = [
        CategoryCount(row.business, row.category, row.offers, row.accepted)
        for row in (await db.execute(_categories(scope))).all()
    ]
    seen.categories.sort(key=lambda c: (-c.offers, c.code, c.business))
    return seen

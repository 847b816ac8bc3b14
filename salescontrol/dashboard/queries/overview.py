"""The overview's figures: dialogues, upsell attempt rate, average quality and
acceptance rate for a period of local days — in total, for the previous period of
the same length, and by local day, local hour, point, register and category.

Every dialogue counts on the day and hour of its own point's zone. A dialogue is
judged by its current analysis: one with status `done` counts in the rates; a
`skipped` one (too little speech) or one not analysed yet counts as a dialogue only.

Two queries whatever the period: the points and registers (names and filters), and
the figures — the period's and the previous one's dialogues read once, from the
dialogues' time bound (see periods.Period.contains) to the current analysis by its
partial unique index, and counted in every grouping at once (GROUPING SETS).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    select,
    tuple_,
)
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


def _figures_columns(seen: Any) -> list[Any]:
    """The counts of `Figures` over rows with the analysis' columns."""
    done = seen.status == "done"
    attempted = and_(done, seen.attempted == "yes")
    return [
        func.count().label("dialogues"),
        func.count().filter(done).label("analysed"),
        func.count().filter(seen.status == "skipped").label("skipped"),
        func.count().filter(attempted).label("attempted"),
        func.count().filter(attempted, seen.customer_reaction == "accepted").label("accepted"),
        func.coalesce(func.sum(seen.quality).filter(done), 0).label("quality_sum"),
    ]


def _figures(row: Any) -> Figures:
    return Figures(
        row.dialogues, row.analysed, row.skipped, row.attempted, row.accepted, row.quality_sum
    )


def _statement(scope: Scope) -> Select[Any]:
    """One pass over the dialogues of the period and of the previous one, each with
    its point's zone and its current analysis (the costly part: a lookup per
    dialogue), counted at once in every grouping the page shows. Each grouping
    set carries `now` (the period, or the previous one); categories are counted
    per distinct array of them and unnested by the caller, which a hash of a few
    dozen arrays does faster than an unnest of every row."""
    period = scope.period
    zone = Point.timezone
    now = Dialogue.started_at >= period.start(zone)
    day = local_date(Dialogue.started_at, zone)
    hour = local_hour(Dialogue.started_at, zone)
    return (
        select(
            now.label("now"),
            day.label("day"),
            hour.label("hour"),
            Dialogue.point_id,
            Dialogue.register_id,
            Point.business,
            Analysis.categories,
            *_figures_columns(Analysis),
        )
        .select_from(Dialogue)
        .join(Point, Point.id == Dialogue.point_id)
        .outerjoin(Analysis, and_(Analysis.dialogue_id == Dialogue.id, Analysis.current))
        .where(*scope.where(Period(period.previous().first, period.last)))
        .group_by(
            func.grouping_sets(
                tuple_(now),
                tuple_(now, day),
                tuple_(now, hour),
                tuple_(now, Dialogue.point_id),
                tuple_(now, Dialogue.register_id),
                tuple_(now, Point.business, Analysis.categories),
            )
        )
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
    offers: dict[tuple[str, str], list[int]] = {}
    # No key column is ever null, so a row's one non-null key (after `now`) names
    # its grouping set; none at all: the totals.
    for row in (await db.execute(_statement(scope))).all():
        figures = _figures(row)
        if row.business is not None:
            for code in row.categories if row.now and figures.attempted else ():
                counts = offers.setdefault((row.business, code), [0, 0])
                counts[0] += figures.attempted
                counts[1] += figures.accepted
        elif (row.day, row.hour, row.point_id, row.register_id) == (None,) * 4:
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
    seen.categories = [CategoryCount(b, code, n, ok) for (b, code), (n, ok) in offers.items()]
    seen.categories.sort(key=lambda c: (-c.offers, c.code, c.business))
    return seen

"""A period of local days, as the pages take it (`?from=2026-12-01&to=2026-12-07`)
and as SQL selects it.

A dialogue belongs to a local day of its own point's time zone: a shop in Almaty
and one in Aktobe are cut at their own midnights. The SQL condition therefore
turns the period's bounds into instants per row (`date AT TIME ZONE point.zone`);
a coarse bound on the instant itself (the period ± 14 h, the widest UTC offset)
lets PostgreSQL use the time index first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, cast, func, literal
from sqlalchemy.types import Date, DateTime, Integer

MAX_OFFSET = timedelta(hours=14)
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    first: date
    last: date
    """Inclusive."""

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one (for comparison)."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range(self.days)]

    def query(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}

    def start(self, zone: SQLColumnExpression[str]) -> ColumnElement[datetime]:
        """SQL: the instant the period's first day begins in `zone`."""
        return func.timezone(zone, cast(literal(self.first), DateTime))

    def contains(
        self, started_at: SQLColumnExpression[datetime], zone: SQLColumnExpression[str]
    ) -> ColumnElement[bool]:
        """SQL: `started_at`, in `zone`, falls on one of the period's days."""
        low = datetime.combine(self.first, time(), UTC)
        high = datetime.combine(self.last + timedelta(days=1), time(), UTC)
        local_low = self.start(zone)
        local_high = func.timezone(zone, cast(literal(self.last + timedelta(days=1)), DateTime))
        return and_(
            started_at >= low - MAX_OFFSET,
            started_at < high + MAX_OFFSET,
            started_at >= local_low,
            started_at < local_high,
        )


def local_date(
    started_at: SQLColumnExpression[datetime], zone: SQLColumnExpression[str]
) -> ColumnElement[date]:
    """SQL: the local day of an instant in a zone."""
    return cast(func.timezone(zone, started_at), Date)


def local_hour(
    started_at: SQLColumnExpression[datetime], zone: SQLColumnExpression[str]
) -> ColumnElement[int]:
    """SQL: the local hour (0-23) of an instant in a zone."""
    return cast(func.extract("hour", func.timezone(zone, started_at)), Integer)


def today(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)
"""Dates outside are unreadable: the ends of the calendar overflow the previous
period and the next day's bound."""


def _parse(value: str | None) -> date | None:
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None
    return parsed if EARLIEST <= parsed <= LATEST else None


def parse_period(first: str | None, last: str | None, zone: str, default_days: int) -> Period:
    """The period a page was asked for; missing or unreadable bounds fall back to the
    last `default_days` days up to today, reversed bounds are swapped and a period
    is at most a year."""
    end = _parse(last) or today(zone)
    start = _parse(first) or end - timedelta(days=default_days - 1)
    if start > end:
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
    return Period(start, end)

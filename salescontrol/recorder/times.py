"""Instants as the agent keeps and sends them: aware UTC datetimes, written as
RFC 3339 with microseconds and an explicit offset (2026-12-04T18:00:00.123456+00:00).

Chunk starts are computed in integer microseconds since the epoch, so that no
float rounding moves a start that sits exactly on a clock boundary.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def from_epoch_us(microseconds: int) -> datetime:
    return EPOCH + timedelta(microseconds=microseconds)


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no defined instant")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_rfc3339(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return moment.astimezone(UTC)

"""How long to wait before the next try of an upload.

Exponential backoff with full jitter: the n-th retry waits a uniformly random
time in [0, min(max, initial * 2**n)], so a fleet of devices that lost the
server together does not come back in step. A Retry-After header (seconds or
an HTTP date) from the server replaces the draw, up to `max`.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def backoff_s(attempt: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    cap = min(max_s, initial_s * 2 ** min(attempt, 32))
    return rng.uniform(0, cap)


def retry_after_s(value: str | None, max_s: float, now: datetime | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), max_s)

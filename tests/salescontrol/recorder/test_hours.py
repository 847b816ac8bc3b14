"""The recording-hours decision: local time in the configured zone, the end
exclusive, a window across midnight."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from salescontrol.recorder.config import HoursConfig
from salescontrol.recorder.hours import within_hours

ALMATY = ZoneInfo("Asia/Almaty")  # UTC+5 all year
DAY = HoursConfig.model_validate({"start": "08:00", "end": "22:00"})
NIGHT = HoursConfig.model_validate({"start": "22:00", "end": "06:00"})


def utc(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 12, 4, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "inside"),
    [
        (utc(2, 59, 59), False),  # 07:59:59 in Almaty
        (utc(3, 0), True),  # 08:00 opens
        (utc(12, 0), True),
        (utc(16, 59, 59), True),
        (utc(17, 0), False),  # 22:00 closes
        (utc(18, 30), False),  # 23:30
    ],
)
def test_a_day_window_in_the_shops_zone(now: datetime, inside: bool) -> None:
    assert within_hours(now, DAY, ALMATY) is inside


@pytest.mark.parametrize(
    ("now", "inside"),
    [
        (utc(18, 30), True),  # 23:30 in Almaty is 18:30 UTC
        (utc(16, 59), False),  # 21:59
        (utc(17, 0), True),  # 22:00
        (utc(19, 30), True),  # 00:30, past midnight
        (utc(0, 59), True),  # 05:59
        (utc(1, 0), False),  # 06:00 closes
        (utc(7, 0), False),  # noon
    ],
)
def test_a_window_across_midnight(now: datetime, inside: bool) -> None:
    assert within_hours(now, NIGHT, ALMATY) is inside


def test_the_same_instant_differs_by_zone() -> None:
    # 18:30 UTC is 23:30 in Almaty (outside 08-22) but 19:30 in Berlin (inside).
    assert not within_hours(utc(18, 30), DAY, ALMATY)
    assert within_hours(utc(18, 30), DAY, ZoneInfo("Europe/Berlin"))


def test_without_hours_always_records() -> None:
    assert within_hours(utc(3, 0), None, ALMATY)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        within_hours(datetime(2026, 12, 4, 12, 0), DAY, ALMATY)

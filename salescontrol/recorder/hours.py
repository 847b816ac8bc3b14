"""Whether now is within the recording hours.

The window is local clock time in the configured IANA zone, so that "08:00" is
the shop's opening time whatever the Pi's own zone is; a start later than the
end is a window across midnight (22:00-06:00). The end is exclusive.

`window_opened` is the same rule for the server, which also needs to know since
when the window has been open (the dashboard does not call a device silent in
the first minutes after opening).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from salescontrol.recorder.config import HoursConfig


def window_opened(now: datetime, start: time, end: time, zone: ZoneInfo) -> datetime | None:
    """The instant the window `start`..`end` (local clock times in `zone`) that
    contains `now` opened; None when `now` is outside it. Equal bounds are a whole
    day from `start`."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        day = local.date()
    elif clock >= start:
        inside, day = True, local.date()
    else:
        # Before the end of a window that opened the evening before.
        inside, day = clock < end, local.date() - timedelta(days=1)
    return datetime.combine(day, start, tzinfo=zone) if inside else None


def within_hours(now: datetime, hours: HoursConfig | None, zone: ZoneInfo) -> bool:
    if hours is None:
        return True
    return window_opened(now, hours.start, hours.end, zone) is not None

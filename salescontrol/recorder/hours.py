"""Whether now is within the recording hours.

The window is local clock time in the configured IANA zone, so that "08:00" is
the shop's opening time whatever the Pi's own zone is; a start later than the
end is a window across midnight (22:00-06:00). The end is exclusive.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from salescontrol.recorder.config import HoursConfig


def within_hours(now: datetime, hours: HoursConfig | None, zone: ZoneInfo) -> bool:
    if hours is None:
        return True
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    local = now.astimezone(zone).time().replace(tzinfo=None)
    if hours.start < hours.end:
        return hours.start <= local < hours.end
    return local >= hours.start or local < hours.end

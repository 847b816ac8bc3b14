"""What the demo lays out, decided without the database: the organisation, its
points, registers and devices, and when each device "recorded" copies of the
shop day over the last days.

The shop day (about six minutes, ten dialogues) is split into pieces at chunk
boundaries that no dialogue crosses; a device's recording session (a slot) is a
run of consecutive pieces placed at some local hour. Slots are drawn from a
random generator seeded by the device and the date, so the same day always gets
the same slots: a second run finds them loaded, a run on a later day adds only
the new ones. Hours follow a coffee shop's day (a morning peak, lunch, the
evening), so the by-hour chart has a shape; each register has its own habits, so
the points differ in how often their sellers offer more.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from salescontrol.demo.source import SourceDay

ORGANISATION = "Демо"
TIMEZONE = "Asia/Almaty"
BUSINESS = "coffee_shop"
OPENS_AT = time(8, 0)
CLOSES_AT = time(22, 0)

SILENT_FOR = timedelta(hours=5)
"""How long the silent device has sent nothing (the dashboard should warn)."""

# Relative weights of the local hours 08..21 at a coffee shop's counter.
HOUR_WEIGHTS = {8: 6, 9: 8, 10: 5, 11: 3, 12: 6, 13: 7, 14: 4,
                15: 2, 16: 3, 17: 5, 18: 6, 19: 4, 20: 2, 21: 1}  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    point: str
    register: str
    device: str
    slots_per_day: int
    """On a weekday; one more on Saturday and Sunday."""
    style: str
    """How long its sessions are: "long" (most of the day's pieces), "mixed", or
    "short" (one piece, rather the ones where the seller offers less)."""
    silent: bool = False
    """Stopped sending `SILENT_FOR` ago (its slots since then are not loaded)."""


DEVICES = (
    DeviceSpec("Кофейня на Абая", "Касса 1", "demo-abaya-1", 3, "long"),
    DeviceSpec("Кофейня на Абая", "Касса 2", "demo-abaya-2", 2, "mixed"),
    DeviceSpec("Кофейня в Esentai", "Касса 1", "demo-esentai-1", 3, "short", silent=True),
)


@dataclass(frozen=True, slots=True)
class Slot:
    """A device's recording session: source chunks `first`..`last` placed at `start`."""

    device: str
    start: datetime
    first: int
    last: int
    end: datetime

    def chunk_start(self, day: SourceDay, index: int) -> datetime:
        """Where source chunk `index` lands in this slot (whole minutes apart, so
        the copies stay aligned to the clock as a recorder's chunks are)."""
        return self.start + (day.chunks[index].start - day.chunks[self.first].start)

    def offset(self, day: SourceDay) -> timedelta:
        """How much later than in the source day everything in this slot happens."""
        return self.start - day.chunks[self.first].start


def pieces(day: SourceDay) -> list[tuple[int, int]]:
    """The day's chunk ranges that no dialogue crosses, each with a dialogue
    (chunks without one join their neighbour)."""
    joined = {i for d in day.dialogues for i in d.chunks[:-1]}
    ranges: list[list[int]] = [[0, 0]]
    for i in range(1, len(day.chunks)):
        if i - 1 in joined:
            ranges[-1][1] = i
        else:
            ranges.append([i, i])
    spoken = {i for d in day.dialogues for i in d.chunks}
    out: list[list[int]] = []
    for r in ranges:
        has_speech = any(i in spoken for i in range(r[0], r[1] + 1))
        if out and not has_speech:
            out[-1][1] = r[1]
        elif out and not any(i in spoken for i in range(out[-1][0], out[-1][1] + 1)):
            out[-1][1] = r[1]  # a silent start joins the first piece with speech
        else:
            out.append(list(r))
    return [(a, b) for a, b in out]


def _offers(day: SourceDay, piece: tuple[int, int]) -> float:
    """The share of the piece's dialogues in which the seller offered more."""
    inside = [d for d in day.dialogues if piece[0] <= d.chunks[0] <= piece[1]]
    offered = sum(d.labels.get("attempted") == "yes" for d in inside)
    return offered / len(inside) if inside else 0.0


def _range(rng: random.Random, spec: DeviceSpec, day: SourceDay) -> tuple[int, int]:
    parts = pieces(day)
    n = len(parts)
    if spec.style == "short":
        # A weaker seller: pieces with fewer offers are likelier.
        weights = [1.5 - _offers(day, p) for p in parts]
        a = b = rng.choices(range(n), weights)[0]
    else:
        low, high = (max(1, n - 2), n) if spec.style == "long" else (2, max(2, n - 2))
        length = min(n, rng.randint(low, high))
        a = rng.randint(0, n - length)
        b = a + length - 1
    return parts[a][0], parts[b][1]


def slots_of(spec: DeviceSpec, local_day: date, day: SourceDay) -> list[Slot]:
    """The device's sessions on a local day, in time order."""
    zone = ZoneInfo(TIMEZONE)
    rng = random.Random(f"{spec.device}/{local_day.isoformat()}")
    count = spec.slots_per_day + (1 if local_day.weekday() >= 5 else 0)
    hours: list[int] = []
    candidates = dict(HOUR_WEIGHTS)
    while len(hours) < count and candidates:
        hour = rng.choices(list(candidates), list(candidates.values()))[0]
        hours.append(hour)
        del candidates[hour]
    slots = []
    for hour in sorted(hours):
        first, last = _range(rng, spec, day)
        local = datetime.combine(local_day, time(hour, rng.randrange(0, 50)), zone)
        start = local.astimezone(ZoneInfo("UTC"))
        length = day.chunks[last].end - day.chunks[first].start
        slots.append(Slot(spec.device, start, first, last, start + length))
    return slots


def local_days(now: datetime, days: int) -> list[date]:
    """The last `days` local dates at the demo's points, ending today."""
    today = now.astimezone(ZoneInfo(TIMEZONE)).date()
    return [today - timedelta(days=k) for k in range(days - 1, -1, -1)]


def schedule(day: SourceDay, now: datetime, days: int, settle: timedelta) -> list[Slot]:
    """Every device's slots over the last `days` local days that are over by
    `settle` before `now` (so their last dialogue can be closed as idle), and for
    the silent device over by `SILENT_FOR`."""
    out: list[Slot] = []
    for spec in DEVICES:
        cutoff = now - (max(SILENT_FOR, settle) if spec.silent else settle)
        for local_day in local_days(now, days):
            out.extend(s for s in slots_of(spec, local_day, day) if s.end <= cutoff)
    return out

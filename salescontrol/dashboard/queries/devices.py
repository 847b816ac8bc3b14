"""The devices page's data: every point with its registers and their recorders, each
judged online or offline from its heartbeats and, within its point's recording
hours, silent when its uploads stopped.

The judgement is a pure function of the facts and a clock (`judge`), so it is
tested with fixed clocks. Within hours, a device is warned about when it has
not been heard from for `offline_after` (offline) or has uploaded nothing for
`silent_after` (silent) — the upload counted from the later of its last upload,
the moment the hours began and the device's registration; and not before
`silent_after` has passed since the hours began or the device was registered,
so that a device is not called silent at 08:01 for the night it was meant to be
quiet, nor right after it was registered. A point without hours records around
the clock (as a recorder without hours does); a disabled device is never warned
about: it was turned off on purpose.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.db.models import Device, Organisation, Point, Register
from salescontrol.recorder.hours import window_opened

ALWAYS = datetime.min.replace(tzinfo=UTC)
"""When a point open around the clock opened (UTC: no offset to overflow)."""
OFFLINE = "offline"
SILENT = "silent"


@dataclass(frozen=True, slots=True)
class Limits:
    offline_after: timedelta
    silent_after: timedelta

    @classmethod
    def of(cls, offline_after_s: float, silent_after_s: float) -> Limits:
        return cls(timedelta(seconds=offline_after_s), timedelta(seconds=silent_after_s))


@dataclass(frozen=True, slots=True)
class Hours:
    """A point's recording hours in its zone; no bounds: around the clock."""

    zone: ZoneInfo
    opens_at: time | None = None
    closes_at: time | None = None

    def opened(self, now: datetime) -> datetime | None:
        """Since when the point has been open at `now` (ALWAYS for a point open
        around the clock); None when it is closed."""
        if self.opens_at is None or self.closes_at is None:
            return ALWAYS
        return window_opened(now, self.opens_at, self.closes_at, self.zone)


@dataclass(frozen=True, slots=True)
class Facts:
    """What the database knows of a device."""

    enabled: bool
    created_at: datetime
    last_seen_at: datetime | None
    last_upload_at: datetime | None


@dataclass(frozen=True, slots=True)
class Verdict:
    online: bool
    in_hours: bool
    warning: str | None = None
    """OFFLINE or SILENT, within the point's hours only."""
    quiet_for: timedelta | None = None
    """With a warning: how long the device has been unheard (offline) or has sent
    nothing (silent)."""


def judge(now: datetime, facts: Facts, hours: Hours, limits: Limits) -> Verdict:
    online = facts.last_seen_at is not None and now - facts.last_seen_at <= limits.offline_after
    opened = hours.opened(now)
    in_hours = opened is not None
    if opened is None or not facts.enabled:
        return Verdict(online, in_hours)
    # A device heard from before its row was made (rows loaded by the demo or
    # restored from elsewhere) has existed at least since then.
    known = [t for t in (facts.last_seen_at, facts.last_upload_at) if t is not None]
    expected_since = max(opened, min([facts.created_at, *known]))
    if now - expected_since <= limits.silent_after:
        # Just opened, or just registered: a device gets the time a silent one
        # would before any warning (a Pi powered with the shop boots meanwhile).
        return Verdict(online, in_hours)
    if not online:
        heard = facts.last_seen_at or expected_since
        return Verdict(online, in_hours, OFFLINE, now - heard)
    uploaded = max(facts.last_upload_at or expected_since, expected_since)
    if now - uploaded > limits.silent_after:
        return Verdict(online, in_hours, SILENT, now - (facts.last_upload_at or uploaded))
    return Verdict(online, in_hours)


@dataclass(frozen=True, slots=True)
class DeviceRow:
    id: uuid.UUID
    name: str
    enabled: bool
    created_at: datetime
    last_seen_at: datetime | None
    last_upload_at: datetime | None
    health: dict[str, Any]
    """The recorder's last heartbeat (salescontrol.recorder.status), or {}."""
    verdict: Verdict

    @property
    def queue(self) -> int | None:
        return _int(self.health.get("queue"))

    @property
    def failed(self) -> int:
        return _int(self.health.get("failed")) or 0

    @property
    def disk_free_bytes(self) -> int | None:
        return _int(self.health.get("disk_free_bytes"))

    @property
    def errors(self) -> list[str]:
        errors = self.health.get("errors")
        return [str(e) for e in errors] if isinstance(errors, list) else []

    @property
    def recording(self) -> bool | None:
        value = self.health.get("recording")
        return value if isinstance(value, bool) else None

    @property
    def reason(self) -> str | None:
        value = self.health.get("reason")
        return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(slots=True)
class RegisterRow:
    id: uuid.UUID
    name: str
    devices: list[DeviceRow] = field(default_factory=list)


@dataclass(slots=True)
class PointRow:
    id: uuid.UUID
    name: str
    organisation: str
    timezone: str
    business: str
    opens_at: time | None
    closes_at: time | None
    in_hours: bool
    registers: list[RegisterRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Warned:
    point: PointRow
    register: RegisterRow
    device: DeviceRow


@dataclass(slots=True)
class Fleet:
    now: datetime
    points: list[PointRow]
    organisations: list[str]

    @property
    def warned(self) -> list[Warned]:
        """Devices with a warning, the offline ones first."""
        found = [
            Warned(point, register, device)
            for point in self.points
            for register in point.registers
            for device in register.devices
            if device.verdict.warning
        ]
        return sorted(found, key=lambda w: w.device.verdict.warning != OFFLINE)


async def load_fleet(db: AsyncSession, now: datetime, limits: Limits) -> Fleet:
    """Every point, register and device, judged at `now` (one query)."""
    rows = await db.execute(
        select(Point, Organisation.name, Register, Device)
        .join(Organisation, Organisation.id == Point.organisation_id)
        .outerjoin(Register, Register.point_id == Point.id)
        .outerjoin(Device, Device.register_id == Register.id)
        .order_by(Organisation.name, Point.name, Register.name, Device.name)
    )
    points: dict[uuid.UUID, PointRow] = {}
    registers: dict[uuid.UUID, RegisterRow] = {}
    organisations: list[str] = []
    for point, organisation, register, device in rows:
        hours = Hours(ZoneInfo(point.timezone), point.opens_at, point.closes_at)
        if organisation not in organisations:
            organisations.append(organisation)
        if point.id not in points:
            points[point.id] = PointRow(
                point.id,
                point.name,
                organisation,
                point.timezone,
                point.business,
                point.opens_at,
                point.closes_at,
                in_hours=hours.opened(now) is not None,
            )
        if register is None:
            continue
        if register.id not in registers:
            registers[register.id] = RegisterRow(register.id, register.name)
            points[point.id].registers.append(registers[register.id])
        if device is None:
            continue
        facts = Facts(device.enabled, device.created_at, device.last_seen_at, device.last_upload_at)
        registers[register.id].devices.append(
            DeviceRow(
                device.id,
                device.name,
                device.enabled,
                device.created_at,
                device.last_seen_at,
                device.last_upload_at,
                device.last_health if isinstance(device.last_health, dict) else {},
                judge(now, facts, hours, limits),
            )
        )
    return Fleet(now, list(points.values()), organisations)

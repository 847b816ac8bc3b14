"""The demo's organisation, points, registers and devices: created once, found by
their unique names on later runs; and what the devices last reported, so that
the dashboard shows one device recording and one that fell silent."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.db.models import AudioChunk, Device, Organisation, Point, Register
from salescontrol.demo.plan import (
    BUSINESS,
    CLOSES_AT,
    DEVICES,
    OPENS_AT,
    ORGANISATION,
    SILENT_FOR,
    TIMEZONE,
    DeviceSpec,
)
from salescontrol.security import new_device_token

DEMO_VERSION = "demo"
"""The recorder version the demo devices report."""


async def _one(session: AsyncSession, row: Any, statement: Any) -> Any:
    """The row `statement` finds, or `row` added."""
    found = await session.scalar(statement)
    if found is not None:
        return found
    session.add(row)
    await session.flush()
    return row


async def organisation_id(session: AsyncSession) -> uuid.UUID | None:
    """The demo organisation's id, when it was loaded before."""
    return await session.scalar(select(Organisation.id).where(Organisation.name == ORGANISATION))


async def ensure_fleet(session: AsyncSession) -> dict[str, Device]:
    """The demo's devices by name, created with their points and registers when
    missing (in the caller's transaction)."""
    org = await _one(
        session,
        Organisation(name=ORGANISATION),
        select(Organisation).where(Organisation.name == ORGANISATION),
    )
    devices: dict[str, Device] = {}
    for spec in DEVICES:
        point = await _one(
            session,
            Point(organisation_id=org.id, name=spec.point, timezone=TIMEZONE,
                  business=BUSINESS, opens_at=OPENS_AT, closes_at=CLOSES_AT),
            select(Point).where(Point.organisation_id == org.id, Point.name == spec.point),
        )  # fmt: skip
        register = await _one(
            session,
            Register(point_id=point.id, name=spec.register),
            select(Register).where(Register.point_id == point.id, Register.name == spec.register),
        )
        # The token is never shown: the demo's devices upload nothing themselves.
        token = new_device_token()
        devices[spec.device] = await _one(
            session,
            Device(register_id=register.id, name=spec.device, token_id=token.token_id,
                   token_salt=token.salt, token_hash=token.digest),
            select(Device).where(Device.register_id == register.id, Device.name == spec.device),
        )  # fmt: skip
    return devices


def _open(now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(TIMEZONE)).time()
    return OPENS_AT <= local < CLOSES_AT


def _health(spec: DeviceSpec, seen: datetime, recording: bool) -> dict[str, Any]:
    """A heartbeat body as the recorder posts it (salescontrol.recorder.status)."""
    return {
        "recording": recording,
        "reason": None if recording else "outside hours",
        "queue": 0,
        "oldest_queued_at": None,
        "last_upload_at": seen.isoformat(),
        "failed": 0,
        "errors": [],
        "disk_free_bytes": 11_500_000_000,
        "spool_bytes": 0,
        "version": DEMO_VERSION,
    }


async def report_health(session: AsyncSession, devices: dict[str, Device], now: datetime) -> None:
    """The devices' last heartbeat and upload: a silent device stopped `SILENT_FOR`
    ago (while it was recording: a power cut, not the closing time); the others
    reported a minute ago, recording when the shop is open."""
    for spec in DEVICES:
        device = devices[spec.device]
        last_chunk = await session.scalar(
            select(func.max(AudioChunk.ended_at)).where(AudioChunk.device_id == device.id)
        )
        if spec.silent:
            seen = now - SILENT_FOR
            recording = True
        else:
            seen = now - timedelta(minutes=1)
            recording = _open(now)
        # A device's real uploads go on all day; the demo's chunks are a sample.
        upload = max(filter(None, (last_chunk, seen if recording else None)), default=None)
        await session.execute(
            update(Device)
            .where(Device.id == device.id)
            .values(last_seen_at=seen, last_upload_at=upload,
                    last_health=_health(spec, upload or seen, recording))
        )  # fmt: skip

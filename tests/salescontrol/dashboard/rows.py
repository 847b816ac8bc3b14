"""Rows the dashboard's tests lay down themselves: a point in a zone with registers
and a device each, and dialogues at a local time with the analysis a test needs —
so that every figure a page shows can be worked out by hand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.db.models import Analysis, Device, Dialogue, Organisation, Point, Register


@dataclass
class Shop:
    """A point with its registers, each with one device."""

    point: Point
    registers: dict[str, Register] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.point.timezone)


async def add_shop(
    db: AsyncSession, name: str, timezone: str, registers: tuple[str, ...] = ("Касса 1",)
) -> Shop:
    organisation = Organisation(name=f"Сеть {uuid.uuid4().hex[:6]}")
    db.add(organisation)
    await db.flush()
    point = Point(organisation_id=organisation.id, name=name, timezone=timezone)
    db.add(point)
    await db.flush()
    shop = Shop(point)
    for register_name in registers:
        register = Register(point_id=point.id, name=register_name)
        db.add(register)
        await db.flush()
        device = Device(
            register_id=register.id,
            name=f"pi-{uuid.uuid4().hex[:6]}",
            token_id=uuid.uuid4().hex,
            token_salt=b"salt",
            token_hash=b"hash",
        )
        db.add(device)
        await db.flush()
        shop.registers[register_name] = register
        shop.devices[register_name] = device
    return shop


async def add_dialogue(
    db: AsyncSession,
    shop: Shop,
    local: str,
    *,
    register: str = "Касса 1",
    analysis: dict[str, object] | None = None,
    history: list[dict[str, object]] | None = None,
) -> Dialogue:
    """A closed 40 s dialogue starting at `local` ("2026-03-07 23:30") in the shop's
    zone; `analysis` is its current analysis (status "done" unless it says
    otherwise), `history` earlier runs that are no longer current."""
    started = datetime.fromisoformat(local).replace(tzinfo=shop.zone)
    dialogue = Dialogue(
        device_id=shop.devices[register].id,
        register_id=shop.registers[register].id,
        point_id=shop.point.id,
        started_at=started,
        ended_at=started + timedelta(seconds=40),
        state="closed",
        closed_reason="silence",
        closed_at=started + timedelta(seconds=50),
        speech_s=30.0,
    )
    db.add(dialogue)
    await db.flush()
    runs = [*(history or []), *([analysis] if analysis is not None else [])]
    for run, fields in enumerate(runs, start=1):
        db.add(
            Analysis(
                **{
                    "dialogue_id": dialogue.id,
                    "run": run,
                    "status": "done",
                    "model": "stub",
                    "prompt_version": "test",
                    "current": run == len(runs),
                    **fields,
                }
            )
        )
    await db.flush()
    return dialogue


def done(attempted: str, quality: int, reaction: str, *categories: str) -> dict[str, object]:
    return {
        "attempted": attempted,
        "quality": quality,
        "customer_reaction": reaction,
        "categories": list(categories),
    }


SKIPPED: dict[str, object] = {"status": "skipped", "skip_reason": "мало речи"}

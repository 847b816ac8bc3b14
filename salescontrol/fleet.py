"""Points, registers and devices as an admin changes them, shared by the admin API
and the dashboard's devices page: each change is one committed transaction, and a
clash with an existing name or a missing row is an exception the caller words in
its own language (`reason` says which)."""

from __future__ import annotations

import uuid
from datetime import time
from typing import Any, ClassVar, TypeVar
from zoneinfo import available_timezones

import asyncpg
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.db.models import Device, Organisation, Point, Register
from salescontrol.security import new_device_token


class NotFound(LookupError):
    """No row of this kind has the id (`what`: point, register, device, user)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"No such {what}")
        self.what = what


class Conflict(ValueError):
    """The change clashes with what exists; `reason` names the clash."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "point_name": "A point of this name exists in the organisation",
        "register_name": "A register of this name exists at the point",
        "device_name": "A device of this name exists at the register",
        "token": "Device token collision, try again",
        "login": "The login is taken",
    }

    def __init__(self, reason: str) -> None:
        super().__init__(self.MESSAGES.get(reason, "Conflict"))
        self.reason = reason


T = TypeVar("T")


async def find(db: AsyncSession, model: type[T], id_: uuid.UUID, what: str) -> T:
    row = await db.get(model, id_)
    if row is None:
        raise NotFound(what)
    return row


CLASHES: dict[str, str] = {
    "points_organisation_id_name_key": "point_name",
    "registers_point_id_name_key": "register_name",
    "devices_register_id_name_key": "device_name",
    "devices_token_id_key": "token",
    "users_login_key": "login",
}
"""The unique constraints a change can clash with (PostgreSQL's names for the
models' UniqueConstraints), as the `Conflict` reason each is."""


def clash(exc: IntegrityError) -> str | None:
    """The `Conflict` reason of `exc`, or None when it is not one of `CLASHES`
    (a NOT NULL or foreign key violation is a bug, not a name taken)."""
    cause = exc.orig.__cause__ if exc.orig is not None else None
    if isinstance(cause, asyncpg.UniqueViolationError):
        return CLASHES.get(cause.constraint_name or "")
    return None


async def commit(db: AsyncSession) -> None:
    """Commit; a clash with an existing name becomes `Conflict`, any other
    integrity error is raised as it is."""
    try:
        await db.commit()
    except IntegrityError as exc:
        await db.rollback()
        reason = clash(exc)
        if reason is None:
            raise
        raise Conflict(reason) from None


def known_zone(name: str) -> str:
    """An IANA zone name such as Asia/Almaty; ValueError otherwise."""
    if name not in available_timezones():
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Almaty)")
    return name


async def add_point(
    db: AsyncSession,
    organisation: str,
    name: str,
    timezone: str,
    business: str,
    opens_at: time | None = None,
    closes_at: time | None = None,
) -> tuple[Point, Organisation]:
    """A new point in the organisation of that name (created when missing)."""
    org = await db.scalar(select(Organisation).where(Organisation.name == organisation))
    if org is None:
        org = Organisation(name=organisation)
        db.add(org)
        await db.flush()
    point = Point(
        organisation_id=org.id,
        name=name,
        timezone=timezone,
        business=business,
        opens_at=opens_at,
        closes_at=closes_at,
    )
    db.add(point)
    await commit(db)
    return point, org


async def update_point(db: AsyncSession, point_id: uuid.UUID, **fields: Any) -> Point:
    """Set the given fields (name, timezone, business, opens_at, closes_at)."""
    point = await find(db, Point, point_id, "point")
    for name, value in fields.items():
        setattr(point, name, value)
    await commit(db)
    return point


async def add_register(db: AsyncSession, point_id: uuid.UUID, name: str) -> Register:
    await find(db, Point, point_id, "point")
    register = Register(point_id=point_id, name=name)
    db.add(register)
    await commit(db)
    return register


async def rename_register(db: AsyncSession, register_id: uuid.UUID, name: str) -> Register:
    register = await find(db, Register, register_id, "register")
    register.name = name
    await commit(db)
    return register


async def register_device(
    db: AsyncSession, register_id: uuid.UUID, name: str
) -> tuple[Device, str]:
    """A new enabled device on the register and its token — the only time the token
    exists in clear: only its salted hash is stored."""
    await find(db, Register, register_id, "register")
    token = new_device_token()
    device = Device(
        register_id=register_id,
        name=name,
        token_id=token.token_id,
        token_salt=token.salt,
        token_hash=token.digest,
        enabled=True,
    )
    db.add(device)
    await commit(db)
    await db.refresh(device)
    return device, token.token


async def update_device(db: AsyncSession, device_id: uuid.UUID, **fields: Any) -> Device:
    """Set the given fields (name, enabled). A disabled device's token is refused
    from its next request on; a name taken at the register is a `Conflict`."""
    device = await find(db, Device, device_id, "device")
    for name, value in fields.items():
        setattr(device, name, value)
    await commit(db)
    return device

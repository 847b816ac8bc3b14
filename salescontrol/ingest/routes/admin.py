"""Admin routes: points (with their time zone), registers, devices (a token shown
once at creation), users, and the chunks a device sent on a local day. Reading is
open to every logged-in user; changing needs an admin."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.http import APIError, openapi_error_responses
from salescontrol.accounts import AccountError, create_user
from salescontrol.db.models import AudioChunk, Device, Organisation, Point, Register, User
from salescontrol.ingest.chunks import chunk_out
from salescontrol.ingest.deps import AdminDep, DbDep, UserDep
from salescontrol.ingest.schemas import (
    ChunkListed,
    DeviceCreated,
    DeviceIn,
    DeviceOut,
    DevicePatch,
    PointIn,
    PointOut,
    PointPatch,
    RegisterIn,
    RegisterOut,
    UserIn,
    UserOut,
    UserPatch,
)
from salescontrol.security import hash_password, new_device_token

router = APIRouter(prefix="/admin", tags=["admin"])
ERRORS = openapi_error_responses(400, 401, 403, 404, 409)


async def _commit(db: AsyncSession, conflict: str) -> None:
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise APIError(409, conflict) from None


T = TypeVar("T")


async def _found(db: AsyncSession, model: type[T], id_: uuid.UUID, what: str) -> T:
    row = await db.get(model, id_)
    if row is None:
        raise APIError(404, f"No such {what}")
    return row


# --- points ------------------------------------------------------------------------


def _point_out(point: Point, organisation: str) -> PointOut:
    return PointOut(
        id=point.id,
        organisation=organisation,
        name=point.name,
        timezone=point.timezone,
        business=point.business,
        opens_at=point.opens_at,
        closes_at=point.closes_at,
    )


@router.get("/points", response_model=list[PointOut], responses=ERRORS)
async def list_points(_: UserDep, db: DbDep) -> list[PointOut]:
    rows = await db.execute(
        select(Point, Organisation.name)
        .join(Organisation, Organisation.id == Point.organisation_id)
        .order_by(Organisation.name, Point.name)
    )
    return [_point_out(point, name) for point, name in rows]


@router.post("/points", response_model=PointOut, status_code=201, responses=ERRORS)
async def create_point(body: PointIn, _: AdminDep, db: DbDep) -> PointOut:
    organisation = await db.scalar(
        select(Organisation).where(Organisation.name == body.organisation)
    )
    if organisation is None:
        organisation = Organisation(name=body.organisation)
        db.add(organisation)
        await db.flush()
    point = Point(
        organisation_id=organisation.id,
        name=body.name,
        timezone=body.timezone,
        business=body.business,
        opens_at=body.opens_at,
        closes_at=body.closes_at,
    )
    db.add(point)
    await _commit(db, "A point of this name exists in the organisation")
    return _point_out(point, organisation.name)


@router.patch("/points/{point_id}", response_model=PointOut, responses=ERRORS)
async def update_point(point_id: uuid.UUID, body: PointPatch, _: AdminDep, db: DbDep) -> PointOut:
    point = await _found(db, Point, point_id, "point")
    for name, value in body.model_dump(exclude_unset=True).items():
        setattr(point, name, value)
    await _commit(db, "A point of this name exists in the organisation")
    organisation = await _found(db, Organisation, point.organisation_id, "organisation")
    return _point_out(point, organisation.name)


# --- registers -------------------------------------------------------------------


@router.get("/points/{point_id}/registers", response_model=list[RegisterOut], responses=ERRORS)
async def list_registers(point_id: uuid.UUID, _: UserDep, db: DbDep) -> list[RegisterOut]:
    await _found(db, Point, point_id, "point")
    rows = await db.scalars(
        select(Register).where(Register.point_id == point_id).order_by(Register.name)
    )
    return [RegisterOut.model_validate(r, from_attributes=True) for r in rows]


@router.post(
    "/points/{point_id}/registers", response_model=RegisterOut, status_code=201, responses=ERRORS
)
async def create_register(
    point_id: uuid.UUID, body: RegisterIn, _: AdminDep, db: DbDep
) -> RegisterOut:
    await _found(db, Point, point_id, "point")
    register = Register(point_id=point_id, name=body.name)
    db.add(register)
    await _commit(db, "A register of this name exists at the point")
    return RegisterOut.model_validate(register, from_attributes=True)


@router.patch("/registers/{register_id}", response_model=RegisterOut, responses=ERRORS)
async def rename_register(
    register_id: uuid.UUID, body: RegisterIn, _: AdminDep, db: DbDep
) -> RegisterOut:
    register = await _found(db, Register, register_id, "register")
    register.name = body.name
    await _commit(db, "A register of this name exists at the point")
    return RegisterOut.model_validate(register, from_attributes=True)


# --- devices ---------------------------------------------------------------------


@router.get("/devices", response_model=list[DeviceOut], responses=ERRORS)
async def list_devices(_: UserDep, db: DbDep) -> list[DeviceOut]:
    rows = await db.scalars(select(Device).order_by(Device.name))
    return [DeviceOut.model_validate(d, from_attributes=True) for d in rows]


@router.post("/devices", response_model=DeviceCreated, status_code=201, responses=ERRORS)
async def register_device(body: DeviceIn, _: AdminDep, db: DbDep) -> DeviceCreated:
    await _found(db, Register, body.register_id, "register")
    token = new_device_token()
    device = Device(
        register_id=body.register_id,
        name=body.name,
        token_id=token.token_id,
        token_salt=token.salt,
        token_hash=token.digest,
        enabled=True,
    )
    db.add(device)
    await _commit(db, "Device token collision, try again")
    await db.refresh(device)
    out = DeviceOut.model_validate(device, from_attributes=True)
    return DeviceCreated(**out.model_dump(), token=token.token)


@router.patch("/devices/{device_id}", response_model=DeviceOut, responses=ERRORS)
async def update_device(
    device_id: uuid.UUID, body: DevicePatch, _: AdminDep, db: DbDep
) -> DeviceOut:
    device = await _found(db, Device, device_id, "device")
    for name, value in body.model_dump(exclude_unset=True).items():
        setattr(device, name, value)
    await _commit(db, "Conflict")
    return DeviceOut.model_validate(device, from_attributes=True)


@router.get(
    "/devices/{device_id}/chunks",
    response_model=list[ChunkListed],
    responses=ERRORS,
    summary="The chunks a device recorded on a day of its point (in the point's time zone)",
)
async def device_chunks(
    device_id: uuid.UUID, day: date, _: UserDep, db: DbDep
) -> list[ChunkListed]:
    zone_name = await db.scalar(
        select(Point.timezone)
        .join(Register, Register.point_id == Point.id)
        .join(Device, Device.register_id == Register.id)
        .where(Device.id == device_id)
    )
    if zone_name is None:
        raise APIError(404, "No such device")
    zone = ZoneInfo(zone_name)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    rows = await db.scalars(
        select(AudioChunk)
        .where(
            AudioChunk.device_id == device_id,
            AudioChunk.state != "receiving",
            AudioChunk.started_at >= start,
            AudioChunk.started_at < end,
        )
        .order_by(AudioChunk.started_at)
    )
    return [
        ChunkListed(
            **chunk_out(row).model_dump(),
            local_day=row.started_at.astimezone(zone).date().isoformat(),
            state=row.state,
        )
        for row in rows
    ]


# --- users -------------------------------------------------------------------------


@router.get("/users", response_model=list[UserOut], responses=ERRORS)
async def list_users(_: AdminDep, db: DbDep) -> list[UserOut]:
    rows = await db.scalars(select(User).order_by(User.login))
    return [UserOut.model_validate(u, from_attributes=True) for u in rows]


@router.post("/users", response_model=UserOut, status_code=201, responses=ERRORS)
async def add_user(body: UserIn, _: AdminDep, db: DbDep) -> UserOut:
    try:
        user = await create_user(db, body.login, body.password, body.role)
    except AccountError as exc:
        raise APIError(409, str(exc)) from None
    await _commit(db, "The login is taken")
    return UserOut.model_validate(user, from_attributes=True)


@router.patch("/users/{user_id}", response_model=UserOut, responses=ERRORS)
async def update_user(user_id: uuid.UUID, body: UserPatch, admin: AdminDep, db: DbDep) -> UserOut:
    user = await _found(db, User, user_id, "user")
    if user.id == admin.id and (body.enabled is False or body.role == "viewer"):
        raise APIError(409, "An admin cannot lock themselves out")
    if body.password is not None:
        user.password_hash = await asyncio.to_thread(hash_password, body.password)
    if body.role is not None:
        user.role = body.role
    if body.enabled is not None:
        user.enabled = body.enabled
    await _commit(db, "Conflict")
    return UserOut.model_validate(user, from_attributes=True)

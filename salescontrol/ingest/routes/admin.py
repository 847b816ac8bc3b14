"""Admin routes: points (with their time zone), registers, devices (a token shown
once at creation), users, and the chunks a device sent on a local day. Reading is
open to every logged-in user; changing needs an admin."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from sqlalchemy import select

from core.http import APIError, openapi_error_responses
from salescontrol import fleet
from salescontrol.accounts import AccountError, change_user, create_user
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

router = APIRouter(prefix="/admin", tags=["admin"])
ERRORS = openapi_error_responses(400, 401, 403, 404, 409)


@asynccontextmanager
async def _answered() -> AsyncIterator[None]:
    """The shared services' refusals as the API's errors."""
    try:
        yield
    except fleet.NotFound as exc:
        raise APIError(404, str(exc)) from None
    except (fleet.Conflict, AccountError) as exc:
        raise APIError(409, str(exc)) from None


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
    async with _answered():
        point, organisation = await fleet.add_point(
            db,
            body.organisation,
            body.name,
            body.timezone,
            body.business,
            body.opens_at,
            body.closes_at,
        )
    return _point_out(point, organisation.name)


@router.patch("/points/{point_id}", response_model=PointOut, responses=ERRORS)
async def update_point(point_id: uuid.UUID, body: PointPatch, _: AdminDep, db: DbDep) -> PointOut:
    async with _answered():
        point = await fleet.update_point(db, point_id, **body.model_dump(exclude_unset=True))
        organisation = await fleet.find(db, Organisation, point.organisation_id, "organisation")
    return _point_out(point, organisation.name)


# --- registers -------------------------------------------------------------------


@router.get("/points/{point_id}/registers", response_model=list[RegisterOut], responses=ERRORS)
async def list_registers(point_id: uuid.UUID, _: UserDep, db: DbDep) -> list[RegisterOut]:
    async with _answered():
        await fleet.find(db, Point, point_id, "point")
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
    async with _answered():
        register = await fleet.add_register(db, point_id, body.name)
    return RegisterOut.model_validate(register, from_attributes=True)


@router.patch("/registers/{register_id}", response_model=RegisterOut, responses=ERRORS)
async def rename_register(
    register_id: uuid.UUID, body: RegisterIn, _: AdminDep, db: DbDep
) -> RegisterOut:
    async with _answered():
        register = await fleet.rename_register(db, register_id, body.name)
    return RegisterOut.model_validate(register, from_attributes=True)


# --- devices ---------------------------------------------------------------------


@router.get("/devices", response_model=list[DeviceOut], responses=ERRORS)
async def list_devices(_: UserDep, db: DbDep) -> list[DeviceOut]:
    rows = await db.scalars(select(Device).order_by(Device.name))
    return [DeviceOut.model_validate(d, from_attributes=True) for d in rows]


@router.post("/devices", response_model=DeviceCreated, status_code=201, responses=ERRORS)
async def register_device(body: DeviceIn, _: AdminDep, db: DbDep) -> DeviceCreated:
    async with _answered():
        device, token = await fleet.register_device(db, body.register_id, body.name)
    out = DeviceOut.model_validate(device, from_attributes=True)
    return DeviceCreated(**out.model_dump(), token=token)


@router.patch("/devices/{device_id}", response_model=DeviceOut, responses=ERRORS)
async def update_device(
    device_id: uuid.UUID, body: DevicePatch, _: AdminDep, db: DbDep
) -> DeviceOut:
    async with _answered():
        device = await fleet.update_device(db, device_id, **body.model_dump(exclude_unset=True))
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
    async with _answered():
        user = await create_user(db, body.login, body.password, body.role)
        await fleet.commit(db)
    return UserOut.model_validate(user, from_attributes=True)


@router.patch("/users/{user_id}", response_model=UserOut, responses=ERRORS)
async def update_user(user_id: uuid.UUID, body: UserPatch, admin: AdminDep, db: DbDep) -> UserOut:
    async with _answered():
        user = await change_user(
            db,
            admin.id,
            user_id,
            role=body.role,
            enabled=body.enabled,
            password=body.password,
        )
    return UserOut.model_validate(user, from_attributes=True)

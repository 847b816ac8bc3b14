"""Request and response bodies of the ingest API."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from salescontrol.fleet import known_zone

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Role = Literal["admin", "viewer"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_null(value: object) -> object:
    """A PATCH field that may be left out (unchanged) but not set to null: its
    column cannot be empty. Defaults are not validated, so only a null sent counts."""
    if value is None:
        raise PydanticCustomError("not_null", "may be left out, but not null")
    return value


class ChunkOut(BaseModel):
    chunk_id: uuid.UUID
    started_at: datetime
    ended_at: datetime
    duration_s: float
    size_bytes: int
    sha256: str


class Heartbeat(BaseModel):
    """What a recorder reports about itself; kept as the device's last health."""

    model_config = ConfigDict(extra="allow")

    recording: bool
    reason: str | None = None
    queue: int = Field(ge=0)
    oldest_queued_at: datetime | None = None
    last_upload_at: datetime | None = None
    failed: int = Field(default=0, ge=0)
    errors: list[str] = Field(default_factory=list, max_length=20)
    disk_free_bytes: int | None = Field(default=None, ge=0)
    spool_bytes: int | None = Field(default=None, ge=0)
    version: str | None = Field(default=None, max_length=100)


class Login(_Body):
    login: Name
    password: str = Field(min_length=1, max_length=1000)


class UserOut(BaseModel):
    id: uuid.UUID
    login: str
    role: Role
    enabled: bool


class SessionOut(BaseModel):
    token: str
    expires_at: datetime
    user: UserOut


class PointIn(_Body):
    organisation: Name
    name: Name
    timezone: str = "Asia/Almaty"
    business: Name = "coffee_shop"
    opens_at: time | None = None
    closes_at: time | None = None

    _zone = field_validator("timezone")(known_zone)


class PointPatch(_Body):
    name: Name | None = None
    timezone: str | None = None
    business: Name | None = None
    opens_at: time | None = None
    """Null: no opening hours."""
    closes_at: time | None = None

    _given = field_validator("name", "timezone", "business", mode="before")(_not_null)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)


class PointOut(BaseModel):
    id: uuid.UUID
    organisation: str
    name: str
    timezone: str
    business: str
    opens_at: time | None
    closes_at: time | None


class RegisterIn(_Body):
    name: Name


class RegisterOut(BaseModel):
    id: uuid.UUID
    point_id: uuid.UUID
    name: str


class DeviceIn(_Body):
    register_id: uuid.UUID
    name: Name


class DevicePatch(_Body):
    name: Name | None = None
    enabled: bool | None = None

    _given = field_validator("name", "enabled", mode="before")(_not_null)


class DeviceOut(BaseModel):
    id: uuid.UUID
    register_id: uuid.UUID
    name: str
    enabled: bool
    last_seen_at: datetime | None
    last_upload_at: datetime | None
    last_health: dict[str, Any] | None


class DeviceCreated(DeviceOut):
    token: str
    """The device's token: shown this once, never again."""


class UserIn(_Body):
    login: Name
    password: str = Field(min_length=10, max_length=1000)
    role: Role = "viewer"


class UserPatch(_Body):
    password: str | None = Field(default=None, min_length=10, max_length=1000)
    role: Role | None = None
    enabled: bool | None = None

    _given = field_validator("password", "role", "enabled", mode="before")(_not_null)


class ChunkListed(ChunkOut):
    local_day: str
    """The day of the chunk's start in its point's time zone."""
    state: str


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool]

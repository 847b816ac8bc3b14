"""A point with a register and a device, and chunk rows, written straight to a
test database: the pipeline's tests start where the ingest API leaves off."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import JobSettings
from salescontrol import jobs
from salescontrol.db.models import AudioChunk, Device, Organisation, Point, Register
from salescontrol.pipeline.messages import VAD
from salescontrol.security import new_device_token


@dataclass
class Fleet:
    sessions: async_sessionmaker[AsyncSession]
    device_id: uuid.UUID
    point_id: uuid.UUID

    async def chunk(
        self,
        started_at: datetime,
        seconds: float = 60.0,
        path: str = "",
        job_cfg: JobSettings | None = None,
    ) -> uuid.UUID:
        """A stored chunk row (and its VAD job when `job_cfg` is given)."""
        chunk_id = uuid.uuid4()
        async with self.sessions() as session, session.begin():
            session.add(
                AudioChunk(
                    id=chunk_id,
                    device_id=self.device_id,
                    client_id=uuid.uuid4(),
                    started_at=started_at,
                    ended_at=started_at + timedelta(seconds=seconds),
                    duration_s=seconds,
                    size_bytes=1,
                    sha256="0" * 64,
                    codec="opus",
                    sample_rate=48000,
                    channels=1,
                    path=path or f"{self.device_id}/{chunk_id}.opus",
                    state="stored",
                )
            )
            if job_cfg is not None:
                await session.flush()
                await jobs.enqueue(
                    session, VAD, chunk_id, job_cfg,
                    partition=str(self.device_id), position=started_at,
                )  # fmt: skip
        return chunk_id


async def make_fleet(
    sessions: async_sessionmaker[AsyncSession], business: str = "coffee_shop"
) -> Fleet:
    token = new_device_token()
    async with sessions() as session, session.begin():
        org = Organisation(name=f"org-{uuid.uuid4().hex[:6]}")
        session.add(org)
        await session.flush()
        point = Point(
            organisation_id=org.id, name="Центр", timezone="Asia/Almaty", business=business
        )
        session.add(point)
        await session.flush()
        register = Register(point_id=point.id, name="Касса 1")
        session.add(register)
        await session.flush()
        device = Device(
            register_id=register.id,
            name="pi-1",
            token_id=token.token_id,
            token_salt=token.salt,
            token_hash=token.digest,
        )
        session.add(device)
        await session.flush()
        return Fleet(sessions, device.id, point.id)

"""The users page's data: every user with their role, whether they are enabled, when
they last logged in, and how many live sessions they have."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.db.models import Session, User


@dataclass(frozen=True, slots=True)
class UserRow:
    id: uuid.UUID
    login: str
    role: str
    enabled: bool
    created_at: datetime
    last_login_at: datetime | None
    sessions: int
    """Live (unexpired) sessions."""


async def list_users(db: AsyncSession) -> list[UserRow]:
    live = (
        select(Session.user_id, func.count().label("n"))
        .where(Session.expires_at > func.now())
        .group_by(Session.user_id)
        .subquery()
    )
    rows = await db.execute(
        select(
            User.id,
            User.login,
            User.role,
            User.enabled,
            User.created_at,
            User.last_login_at,
            func.coalesce(live.c.n, 0),
        )
        .outerjoin(live, live.c.user_id == User.id)
        .order_by(User.login)
    )
    return [UserRow(*row) for row in rows]

"""Users of the dashboard and the admin API: created by an admin, or the first admin
by `salescontrol users create --admin`."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import User
from salescontrol.security import hash_password

MIN_PASSWORD = 10


class AccountError(ValueError):
    """A user that cannot be created as asked (a taken login, a short password)."""


async def create_user(session: AsyncSession, login: str, password: str, role: str) -> User:
    """Add a user in the caller's transaction (flushed, not committed)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if await session.scalar(select(User.id).where(User.login == login)) is not None:
        raise AccountError(f"the login {login!r} is taken")
    user = User(
        login=login,
        password_hash=await asyncio.to_thread(hash_password, password),
        role=role,
    )
    session.add(user)
    await session.flush()
    return user


async def add_user(url: str, login: str, password: str, role: str) -> None:
    """Create a user in the database at `url`, committed (the CLI's first admin)."""
    engine = make_engine(url, pool_size=1)
    try:
        async with session_factory(engine)() as session, session.begin():
            await create_user(session, login, password, role)
    finally:
        await engine.dispose()

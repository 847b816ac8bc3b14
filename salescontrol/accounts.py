"""Users of the dashboard and the admin API: created by an admin (or the first admin
by `salescontrol users create --admin`), their role changed, disabled, their
password reset — shared by the admin API and the dashboard's users page.

An admin cannot lock themselves out, and the last enabled admin cannot be disabled
or demoted: the service would have no one left to manage it. Disabling a user or
resetting their password ends their sessions."""

from __future__ import annotations

import asyncio
import secrets
import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import Session, User
from salescontrol.fleet import NotFound
from salescontrol.security import hash_password

MIN_PASSWORD = 10
MAX_PASSWORD = 1000
ROLES = ("admin", "viewer")


class AccountError(ValueError):
    """A change to users that cannot be made as asked; `reason` names why: taken,
    short_password, long_password, role, self (an admin locking themselves out),
    last_admin."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters", "short_password")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters", "long_password")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}", "role")


def new_password() -> str:
    """A random password for a reset the admin hands on (16 characters)."""
    return secrets.token_urlsafe(12)


async def create_user(session: AsyncSession, login: str, password: str, role: str) -> User:
    """Add a user in the caller's transaction (flushed, not committed)."""
    check_password(password)
    _check_role(role)
    if await session.scalar(select(User.id).where(User.login == login)) is not None:
        raise AccountError(f"the login {login!r} is taken", "taken")
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


async def change_user(
    db: AsyncSession,
    actor_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    role: str | None = None,
    enabled: bool | None = None,
    password: str | None = None,
    keep_session: uuid.UUID | None = None,
) -> User:
    """Change a user's role, enabled flag or password on behalf of the admin
    `actor_id`, committed. NotFound, or AccountError when the change would lock the
    actor out or leave no enabled admin. Disabling or a new password ends the
    user's sessions, except `keep_session` (the actor's own, on their own reset)."""
    if role is not None:
        _check_role(role)
    if password is not None:
        check_password(password)
    # Locking every enabled admin's row serialises two admins demoting each other.
    admins = set(
        await db.scalars(
            select(User.id).where(User.role == "admin", User.enabled.is_(True)).with_for_update()
        )
    )
    user = await db.get(User, user_id)
    if user is None:
        await db.rollback()
        raise NotFound("user")
    removes_admin = user.id in admins and (role == "viewer" or enabled is False)
    if removes_admin and user.id == actor_id:
        await db.rollback()
        raise AccountError("An admin cannot lock themselves out", "self")
    if removes_admin and admins == {user.id}:
        await db.rollback()
        raise AccountError("The last enabled admin cannot be removed", "last_admin")
    if password is not None:
        user.password_hash = await asyncio.to_thread(hash_password, password)
    if role is not None:
        user.role = role
    if enabled is not None:
        user.enabled = enabled
    if enabled is False or password is not None:
        # A disabled user's or an old password's sessions end now: re-enabling the
        # user later does not bring them back.
        ended = delete(Session).where(Session.user_id == user.id)
        if keep_session is not None and enabled is not False:
            ended = ended.where(Session.id != keep_session)
        await db.execute(ended)
    await db.commit()
    return user

"""Request dependencies of the ingest API: the runtime, a database session, and who
is asking — a device (its token), a user (a login session, by Bearer token or
cookie) or an admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.http import APIError
from salescontrol.db.models import Device, Session, User
from salescontrol.ingest.runtime import Runtime
from salescontrol.security import device_secret_matches, session_digest, split_device_token

SESSION_COOKIE = "sc_session"


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_db(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session:
        yield session


DbDep = Annotated[AsyncSession, Depends(get_db)]


def bearer(request: Request) -> str:
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    return token.strip() if scheme.lower() == "bearer" else ""


async def current_device(request: Request, runtime: RuntimeDep) -> Device:
    parts = split_device_token(bearer(request))
    if parts is None:
        raise APIError(401, "A device token is required")
    token_id, secret = parts
    # A session of its own, closed at once: an upload streams its body for
    # seconds and must not hold a pooled connection meanwhile.
    async with runtime.sessions() as db:
        device = await db.scalar(select(Device).where(Device.token_id == token_id))
    if device is None or not device_secret_matches(secret, device.token_salt, device.token_hash):
        raise APIError(401, "Invalid device token")
    if not device.enabled:
        raise APIError(403, "This device is disabled")
    return device


DeviceDep = Annotated[Device, Depends(current_device)]


async def find_session(runtime: Runtime, token: str) -> tuple[Session, User] | None:
    """The live session of this token and its (enabled) user; None if there is none."""
    if not token:
        return None
    async with runtime.sessions() as db:
        row = (
            await db.execute(
                select(Session, User)
                .join(User, User.id == Session.user_id)
                .where(
                    Session.token_hash == session_digest(token),
                    Session.expires_at > func.now(),
                    User.enabled.is_(True),
                )
            )
        ).first()
    return None if row is None else (row[0], row[1])


# The browser sends the session cookie by itself, even on a request another site
# made it send; the API's changes carry no CSRF token (the dashboard's own forms
# do), so the cookie opens the API for reading only and a change needs the token
# in the Authorization header.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def current_session(request: Request, runtime: RuntimeDep) -> tuple[Session, User]:
    token = bearer(request)
    if not token and (cookie := request.cookies.get(SESSION_COOKIE, "")):
        if request.method not in SAFE_METHODS:
            raise APIError(
                403,
                "A change through the API needs the session token in the Authorization "
                "header (Bearer), not the browser's cookie",
            )
        token = cookie
    if not token:
        raise APIError(401, "Log in first")
    found = await find_session(runtime, token)
    if found is None:
        raise APIError(401, "The session has expired or does not exist: log in again")
    return found


SessionDep = Annotated[tuple[Session, User], Depends(current_session)]


async def current_user(session: SessionDep) -> User:
    return session[1]


UserDep = Annotated[User, Depends(current_user)]


async def current_admin(user: UserDep) -> User:
    if user.role != "admin":
        raise APIError(403, "Only an admin may do this")
    return user


AdminDep = Annotated[User, Depends(current_admin)]

"""Opening and closing a login session, shared by the API's `/auth` routes and the
dashboard's login form: attempts limited per client address and per login name, the
password checked off the event loop, the token kept only as a hash and handed to a
browser as an HttpOnly cookie."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request, Response
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.http import APIError, retry_after
from salescontrol.db.models import Session, User
from salescontrol.ingest.deps import SESSION_COOKIE
from salescontrol.ingest.runtime import Runtime
from salescontrol.security import DUMMY_PASSWORD_HASH, new_session_token, password_matches


@dataclass(frozen=True, slots=True)
class Opened:
    token: str
    expires_at: datetime
    user: User


def _limit(runtime: Runtime, request: Request, login: str) -> None:
    address = request.client.host if request.client else "unknown"
    for limiter, key in (
        (runtime.logins_by_address, address),
        (runtime.logins_by_name, login.casefold()),
    ):
        allowed, wait = limiter.allow(key)
        if not allowed:
            raise APIError(
                429,
                "Too many login attempts, retry later",
                headers=retry_after(wait),
            )


async def open_session(
    runtime: Runtime, db: AsyncSession, request: Request, login: str, password: str
) -> Opened:
    """A new session for this login and password; APIError 401 or 429 otherwise."""
    _limit(runtime, request, login)
    user = await db.scalar(select(User).where(User.login == login))
    stored = user.password_hash if user is not None else DUMMY_PASSWORD_HASH
    # argon2 takes tens of milliseconds of CPU on purpose: off the event loop.
    matches = await asyncio.to_thread(password_matches, password, stored)
    if user is None or not matches or not user.enabled:
        raise APIError(401, "Wrong login or password")
    token, digest = new_session_token()
    hours = runtime.settings.salescontrol.auth.session_hours
    expires = datetime.now(UTC) + timedelta(hours=hours)
    db.add(
        Session(
            user_id=user.id,
            token_hash=digest,
            csrf_token=secrets.token_urlsafe(24),
            expires_at=expires,
        )
    )
    await db.execute(update(User).where(User.id == user.id).values(last_login_at=datetime.now(UTC)))
    await db.commit()
    return Opened(token, expires, user)


async def close_session(db: AsyncSession, session: Session) -> None:
    await db.execute(delete(Session).where(Session.id == session.id))
    await db.commit()


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def set_session_cookie(response: Response, request: Request, opened: Opened) -> None:
    seconds = (opened.expires_at - datetime.now(UTC)).total_seconds()
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        max_age=max(int(seconds), 0),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)

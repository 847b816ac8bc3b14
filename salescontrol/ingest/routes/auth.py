"""Logging in and out: a session token, as a Bearer token for API clients and as an
HttpOnly cookie for the dashboard. Login attempts are limited per client address
and per login name."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select, update

from core.http import APIError, openapi_error_responses, retry_after
from salescontrol.db.models import Session, User
from salescontrol.ingest.deps import SESSION_COOKIE, DbDep, RuntimeDep, SessionDep, UserDep
from salescontrol.ingest.schemas import Login, SessionOut, UserOut
from salescontrol.security import DUMMY_PASSWORD_HASH, new_session_token, password_matches

router = APIRouter(prefix="/auth", tags=["auth"])


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def _limit(runtime: RuntimeDep, request: Request, login: str) -> None:
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


@router.post(
    "/login",
    response_model=SessionOut,
    responses=openapi_error_responses(400, 401, 429),
    summary="Log in with a login and a password",
)
async def login(body: Login, request: Request, runtime: RuntimeDep, db: DbDep) -> JSONResponse:
    _limit(runtime, request, body.login)
    user = await db.scalar(select(User).where(User.login == body.login))
    stored = user.password_hash if user is not None else DUMMY_PASSWORD_HASH
    # argon2 takes tens of milliseconds of CPU on purpose: off the event loop.
    matches = await asyncio.to_thread(password_matches, body.password, stored)
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
    body_out = SessionOut(token=token, expires_at=expires, user=user_out(user))
    response = JSONResponse(body_out.model_dump(mode="json"))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


@router.post(
    "/logout",
    status_code=204,
    responses=openapi_error_responses(401),
    summary="End this session",
)
async def logout(session: SessionDep, db: DbDep) -> Response:
    await db.execute(delete(Session).where(Session.id == session[0].id))
    await db.commit()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get(
    "/me", response_model=UserOut, responses=openapi_error_responses(401), summary="Who I am"
)
async def me(user: UserDep) -> UserOut:
    return user_out(user)

"""Logging in and out: a session token, as a Bearer token for API clients and as an
HttpOnly cookie for the dashboard (salescontrol.ingest.logins)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from core.http import openapi_error_responses
from salescontrol.db.models import User
from salescontrol.ingest.deps import DbDep, RuntimeDep, SessionDep, UserDep
from salescontrol.ingest.logins import (
    clear_session_cookie,
    close_session,
    open_session,
    set_session_cookie,
)
from salescontrol.ingest.schemas import Login, SessionOut, UserOut

router = APIRouter(prefix="/auth", tags=["auth"])


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.post(
    "/login",
    response_model=SessionOut,
    responses=openapi_error_responses(400, 401, 429),
    summary="Log in with a login and a password",
)
async def login(body: Login, request: Request, runtime: RuntimeDep, db: DbDep) -> JSONResponse:
    opened = await open_session(runtime, db, request, body.login, body.password)
    body_out = SessionOut(
        token=opened.token, expires_at=opened.expires_at, user=user_out(opened.user)
    )
    response = JSONResponse(body_out.model_dump(mode="json"))
    set_session_cookie(response, request, opened)
    return response


@router.post(
    "/logout",
    status_code=204,
    responses=openapi_error_responses(401),
    summary="End this session",
)
async def logout(session: SessionDep, db: DbDep) -> Response:
    await close_session(db, session[0])
    response = Response(status_code=204)
    clear_session_cookie(response)
    return response


@router.get(
    "/me", response_model=UserOut, responses=openapi_error_responses(401), summary="Who I am"
)
async def me(user: UserDep) -> UserOut:
    return user_out(user)

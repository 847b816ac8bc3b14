"""The login form and logging out.

The form is protected against login CSRF (a foreign site logging a browser into an
account of its choosing) by a double-submit token: a random value in a short-lived
cookie and the same value in the form."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core.http import APIError
from salescontrol.dashboard.auth import CSRF_FIELD, ViewerDep, require_csrf
from salescontrol.dashboard.templating import render
from salescontrol.ingest.deps import SESSION_COOKIE, DbDep, RuntimeDep, find_session
from salescontrol.ingest.logins import (
    clear_session_cookie,
    close_session,
    open_session,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "sc_login_csrf"


def _safe_next(value: str | None) -> str:
    """Only a path of this site: never an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/overview"


def _form(request: Request, next_url: str, status: int = 200, **context: str) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", None, status_code=status, csrf=token, next_url=next_url, **context
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict", path="/login"
    )
    return response


@router.get("/login")
async def login_form(request: Request, runtime: RuntimeDep, next: str | None = None) -> Response:
    if await find_session(runtime, request.cookies.get(SESSION_COOKIE, "")):
        return RedirectResponse(_safe_next(next), status_code=303)
    return _form(request, _safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    runtime: RuntimeDep,
    db: DbDep,
    login: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    next_url = _safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf_token, expected):
        return _form(request, next_url, 400, login=login, error="Форма устарела, войдите ещё раз.")
    try:
        opened = await open_session(runtime, db, request, login.strip(), password)
    except APIError as exc:
        message = (
            "Слишком много попыток входа, подождите минуту."
            if exc.status == 429
            else "Неверный логин или пароль."
        )
        return _form(request, next_url, exc.status, login=login, error=message)
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(response, request, opened)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    await require_csrf(request, viewer)
    await close_session(db, viewer.session)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response

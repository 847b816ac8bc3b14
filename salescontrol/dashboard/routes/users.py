"""The users page (admins only): the list of users; create one, change a role,
disable or enable, reset a password — to one the admin types, or to a generated one
shown this once. The rules (an admin cannot lock themselves out, the last enabled
admin stays, a disabled user's or reset password's sessions end) live in
salescontrol.accounts, shared with the admin API.

The forms work without JavaScript (a redirect back, or the page with the outcome);
with htmx the answer is the page's body, swapped in place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.accounts import MIN_PASSWORD, ROLES, change_user, create_user, new_password
from salescontrol.dashboard.auth import AdminDep, Viewer
from salescontrol.dashboard.forms import (
    Editing,
    EditingDep,
    FormError,
    Outcome,
    Refusal,
    TextField,
    attempt,
    flag,
    row_id,
)
from salescontrol.dashboard.forms import name as name_of
from salescontrol.dashboard.queries.users import list_users
from salescontrol.dashboard.templating import render
from salescontrol.db.models import User
from salescontrol.fleet import commit
from salescontrol.ingest.deps import DbDep

router = APIRouter(include_in_schema=False)

ROLE = {"admin": "администратор", "viewer": "наблюдатель"}


def _role(value: str) -> str:
    if value not in ROLES:
        raise FormError("Роль — администратор или наблюдатель.")
    return value


def _password(value: str) -> tuple[str, str | None]:
    """The password typed, or a generated one (returned again: to be shown once)."""
    if value:
        return value, None
    generated = new_password()
    return generated, generated


async def _page(
    request: Request, viewer: Viewer, db: AsyncSession, *, fragment: bool = False,
    status: int = 200, **flash: str | None,
) -> Response:  # fmt: skip
    response = render(
        request,
        "_users_body.html" if fragment else "users.html",
        viewer,
        status_code=status,
        nav="users",
        users=await list_users(db),
        ROLE=ROLE,
        MIN_PASSWORD=MIN_PASSWORD,
        **flash,
    )
    if flash.get("secret"):
        response.headers["Cache-Control"] = "no-store"
    return response


async def _change(form: Editing, apply: Callable[[], Awaitable[Outcome]]) -> Response:
    """Apply a form; htmx gets the body with the outcome, a plain browser a redirect
    back — or the page, when there is a refusal or a password to show."""
    request, viewer, htmx = form.request, form.viewer, form.htmx
    result = await attempt(apply)
    if isinstance(result, Refusal):
        # htmx swaps only a 2xx answer: the refusal is shown in the body.
        status = 200 if htmx else result.status
        return await _page(
            request, viewer, form.db, fragment=htmx, status=status, error=result.message
        )
    if htmx or result.secret:
        return await _page(
            request, viewer, form.db, fragment=htmx, notice=result.notice, secret=result.secret
        )
    return RedirectResponse("/users", status_code=303)


@router.get("/users")
async def users_page(request: Request, viewer: AdminDep, db: DbDep) -> Response:
    return await _page(request, viewer, db)


@router.post("/users")
async def add_user(
    form: EditingDep, login: TextField = "", role: TextField = "", password: TextField = ""
) -> Response:
    async def apply() -> Outcome:
        chosen, shown = _password(password)
        user = await create_user(form.db, name_of(login, "логин"), chosen, _role(role))
        await commit(form.db)
        return Outcome(f"Пользователь «{user.login}» создан.", shown)

    return await _change(form, apply)


async def _changed(form: Editing, user_id: str, **change: Any) -> User:
    """`change_user` on behalf of the admin sending the form."""
    return await change_user(form.db, form.viewer.user.id, row_id(user_id, "user"), **change)


@router.post("/users/{user_id}/role")
async def set_role(user_id: str, form: EditingDep, role: TextField = "") -> Response:
    async def apply() -> Outcome:
        user = await _changed(form, user_id, role=_role(role))
        return Outcome(f"Роль «{user.login}»: {ROLE[user.role]}.")

    return await _change(form, apply)


@router.post("/users/{user_id}/enabled")
async def set_enabled(user_id: str, form: EditingDep, enabled: TextField = "") -> Response:
    async def apply() -> Outcome:
        user = await _changed(form, user_id, enabled=flag(enabled))
        state = "включён" if user.enabled else "отключён, его сеансы завершены"
        return Outcome(f"Пользователь «{user.login}» {state}.")

    return await _change(form, apply)


@router.post("/users/{user_id}/password")
async def reset_password(user_id: str, form: EditingDep, password: TextField = "") -> Response:
    async def apply() -> Outcome:
        chosen, shown = _password(password)
        # The admin's own reset keeps the session they are using.
        keep = form.viewer.session.id
        user = await _changed(form, user_id, password=chosen, keep_session=keep)
        return Outcome(f"Пароль «{user.login}» сменён, его сеансы завершены.", shown)

    return await _change(form, apply)

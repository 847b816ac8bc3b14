"""Who is looking at a page, and whether they may change anything.

A page needs a live login session (the HttpOnly cookie the login form sets). Without
one, a browser is sent to the login form — htmx requests get `HX-Redirect`, so a
fragment never renders a login form inside the page — and nothing of the page, its
data or its audio is sent. A viewer sees everything and changes nothing: every route
that changes something requires an admin and the session's CSRF token (a hidden form
field, or the `X-CSRF-Token` header that htmx sends from the page's `hx-headers`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from salescontrol.db.models import Session, User
from salescontrol.ingest.deps import SESSION_COOKIE, RuntimeDep, find_session

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True, slots=True)
class Viewer:
    session: Session
    user: User

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"

    @property
    def csrf(self) -> str:
        return self.session.csrf_token


class LoginRequired(Exception):
    """No live session: answered with a redirect to the login form."""

    def __init__(self, next_url: str):
        super().__init__(next_url)
        self.next_url = next_url


class PageForbidden(Exception):
    """A viewer tried to change something, or a form came without its CSRF token."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def login_url(next_url: str) -> str:
    return f"/login?next={quote(next_url, safe='')}"


async def page_viewer(request: Request, runtime: RuntimeDep) -> Viewer:
    found = await find_session(runtime, request.cookies.get(SESSION_COOKIE, ""))
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return Viewer(*found)


ViewerDep = Annotated[Viewer, Depends(page_viewer)]


async def _sent_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        # Starlette caches the parsed form: the route reads it again for free.
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def require_csrf(request: Request, viewer: Viewer) -> None:
    if not hmac.compare_digest(await _sent_csrf(request), viewer.csrf):
        raise PageForbidden("Форма устарела: обновите страницу и повторите.")


async def page_editor(request: Request, viewer: ViewerDep) -> Viewer:
    """An admin whose request carries the session's CSRF token."""
    if not viewer.is_admin:
        raise PageForbidden("Изменять данные может только администратор.")
    await require_csrf(request, viewer)
    return viewer


async def page_admin(viewer: ViewerDep) -> Viewer:
    """An admin, for pages only admins see (users)."""
    if not viewer.is_admin:
        raise PageForbidden("Эта страница доступна только администратору.")
    return viewer


EditorDep = Annotated[Viewer, Depends(page_editor)]
AdminDep = Annotated[Viewer, Depends(page_admin)]

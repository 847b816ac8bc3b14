"""A dashboard user without a browser: the app in process (tests.salescontrol.ingest's
service), a login session's cookie and its CSRF token, and the requests a page and
htmx make — for the tests of the admin forms, where a browser adds nothing but time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from salescontrol.accounts import add_user
from salescontrol.db.models import Session
from salescontrol.ingest.deps import SESSION_COOKIE
from salescontrol.security import session_digest
from tests.salescontrol.ingest.service import ADMIN_LOGIN, ADMIN_PASSWORD, Ingest


@dataclass
class SignedIn:
    ingest: Ingest
    token: str
    csrf: str

    @property
    def cookie(self) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={self.token}"}

    async def get(self, path: str, *, htmx: bool = False) -> httpx.Response:
        headers = {**self.cookie, **({"HX-Request": "true"} if htmx else {})}
        return await self.ingest.http.get(path, headers=headers)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, htmx: bool = False,
        csrf: bool = True,
    ) -> httpx.Response:  # fmt: skip
        """A form as the page sends it: the CSRF token as its hidden field, or with
        htmx as the header base.html's hx-headers adds."""
        form = dict(data or {})
        headers = dict(self.cookie)
        if htmx:
            headers["HX-Request"] = "true"
            if csrf:
                headers["X-CSRF-Token"] = self.csrf
        elif csrf:
            form["csrf_token"] = self.csrf
        return await self.ingest.http.post(path, data=form, headers=headers)


async def sign_in(ingest: Ingest, login: str, password: str) -> SignedIn:
    response = await ingest.login(login, password)
    assert response.status_code == 200, response.text
    ingest.http.cookies.clear()
    token = response.json()["token"]
    async with ingest.runtime.sessions() as db:
        csrf = await db.scalar(
            select(Session.csrf_token).where(Session.token_hash == session_digest(token))
        )
    assert csrf
    return SignedIn(ingest, token, csrf)


async def as_admin(ingest: Ingest) -> SignedIn:
    return await sign_in(ingest, ADMIN_LOGIN, ADMIN_PASSWORD)


async def as_new_user(ingest: Ingest, login: str, password: str, role: str) -> SignedIn:
    url = ingest.runtime.settings.env.database_url
    assert url
    await add_user(url, login, password, role)
    return await sign_in(ingest, login, password)

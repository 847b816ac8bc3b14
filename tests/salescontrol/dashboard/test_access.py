"""Nothing of the dashboard without a login, nothing changed without an admin.

The routes are taken from the app itself, so a page added later is covered without
editing this test: every dashboard route (and every audio URL) answers a visitor
without a session — or with an expired one — with a redirect to the login form and
not a byte of its content; every route that changes something refuses a viewer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import update

from salescontrol.accounts import add_user
from salescontrol.db.models import Session
from salescontrol.ingest.deps import SESSION_COOKIE
from tests.salescontrol.ingest.service import Ingest

PUBLIC = {"/login", "/", "/health", "/ready", "/metrics"}
VIEWER = ("a-viewer", "viewer-password-1")


def _walk(router: Any, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in router.routes:
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI keeps included routers as they are
            yield from _walk(included, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def dashboard_routes(app: FastAPI, ids: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(method, path with its parameters filled) of every dashboard route: a
    parameter named in `ids` gets that value, any other a random UUID."""
    found: list[tuple[str, str]] = []
    for path, route in _walk(app.router):
        if path.startswith(("/api/", "/internal/")) or path in PUBLIC:
            continue
        for name in route.param_convertors:
            path = path.replace("{" + name + "}", (ids or {}).get(name) or str(uuid.uuid4()))
        found.extend((method, path) for method in sorted((route.methods or set()) - {"HEAD"}))
    return found


def test_the_dashboard_has_its_pages(ingest: Ingest) -> None:
    paths = {path.split("/")[1] for _, path in dashboard_routes(ingest.app)}
    assert {"overview", "dialogues", "reviews", "devices", "users", "logout"} <= paths


def _assert_sent_to_login(response: httpx.Response, htmx: bool = False) -> None:
    if htmx:
        assert response.status_code == 401
        assert response.headers["HX-Redirect"].startswith("/login?next=")
    else:
        assert response.status_code == 303, (response.request.url, response.status_code)
        assert response.headers["location"].startswith("/login?next=")
    assert response.content == b""


@pytest.mark.parametrize("htmx", [False, True], ids=["browser", "htmx"])
async def test_without_a_session_every_route_and_audio_url_sends_to_login(
    ingest: Ingest, htmx: bool
) -> None:
    headers = {"HX-Request": "true"} if htmx else {}
    for method, path in dashboard_routes(ingest.app):
        response = await ingest.http.request(method, path, headers=headers)
        _assert_sent_to_login(response, htmx)
    audio = await ingest.http.get(f"/dialogues/{uuid.uuid4()}/audio", headers=headers)
    _assert_sent_to_login(audio, htmx)


async def test_an_expired_session_sees_nothing(ingest: Ingest, database_url: str) -> None:
    await add_user(database_url, *VIEWER, "viewer")
    login = await ingest.login(*VIEWER)
    assert login.status_code == 200
    token = login.json()["token"]
    async with ingest.runtime.sessions() as db:
        await db.execute(
            update(Session).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await db.commit()
    ingest.http.cookies.set(SESSION_COOKIE, token)
    for method, path in dashboard_routes(ingest.app):
        _assert_sent_to_login(await ingest.http.request(method, path))


async def test_a_viewer_can_change_nothing(ingest: Ingest, database_url: str) -> None:
    await add_user(database_url, *VIEWER, "viewer")
    login = await ingest.login(*VIEWER)
    token = login.json()["token"]
    changing = [(m, p) for m, p in dashboard_routes(ingest.app) if m != "GET" and p != "/logout"]
    assert changing, "the dashboard has forms that change things"
    ingest.http.cookies.set(SESSION_COOKIE, token)
    for method, path in changing:
        response = await ingest.http.request(method, path, data={"csrf_token": "x"})
        assert response.status_code == 403, (method, path, response.status_code)

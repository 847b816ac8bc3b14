"""Who may do what: users log in (a Bearer token or the dashboard's cookie), admins
change things and viewers only look, a session ends on logout or expiry, login
attempts are limited, and a device's token is shown once and works only as a device."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update

from core.settings import Settings
from salescontrol.accounts import add_user
from salescontrol.db.models import Device, Session, User
from salescontrol.ingest.deps import SESSION_COOKIE
from tests.salescontrol.ingest.service import ADMIN_LOGIN, Ingest, serve
from tests.support.errors import assert_error

VIEWER = ("viewer", "viewer password 1")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def as_viewer(ingest: Ingest, settings: Settings) -> dict[str, str]:
    assert settings.env.database_url
    await add_user(settings.env.database_url, *VIEWER, "viewer")
    login = await ingest.login(*VIEWER)
    assert login.status_code == 200, login.text
    ingest.http.cookies.clear()
    return bearer(login.json()["token"])


async def test_a_login_gives_a_token_and_an_httponly_cookie(ingest: Ingest) -> None:
    response = await ingest.login(ADMIN_LOGIN, "correct horse battery")

    assert response.status_code == 200
    body = response.json()
    assert body["user"]["login"] == ADMIN_LOGIN and body["user"]["role"] == "admin"
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}={body['token']}" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    # The cookie alone authenticates the dashboard.
    me = await ingest.http.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["login"] == ADMIN_LOGIN
    # But it changes nothing through the API (a cross-site request would carry it
    # too): a change needs the token in the header.
    again = f"/api/v1/dialogues/{uuid.uuid4()}/reanalyse"
    assert_error(await ingest.http.post(again), 403, "FORBIDDEN")
    assert_error(await ingest.http.post("/api/v1/auth/logout"), 403, "FORBIDDEN")
    assert_error(await ingest.http.post(again, headers=bearer(body["token"])), 404, "NOT_FOUND")
    assert (await ingest.http.get("/api/v1/auth/me")).status_code == 200


@pytest.mark.parametrize(
    ("login", "password"),
    [(ADMIN_LOGIN, "wrong password"), ("nobody", "correct horse battery")],
)
async def test_a_wrong_login_or_password_gets_the_same_answer(
    ingest: Ingest, login: str, password: str
) -> None:
    response = await ingest.login(login, password)
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.json()["error"]["message"] == "Wrong login or password"
    assert "set-cookie" not in response.headers


async def test_logout_and_expiry_end_a_session(ingest: Ingest) -> None:
    token = (await ingest.login(ADMIN_LOGIN, "correct horse battery")).json()["token"]
    ingest.http.cookies.clear()
    assert (await ingest.http.get("/api/v1/auth/me", headers=bearer(token))).status_code == 200

    assert (await ingest.http.post("/api/v1/auth/logout", headers=bearer(token))).status_code == 204
    after = await ingest.http.get("/api/v1/auth/me", headers=bearer(token))
    assert_error(after, 401, "UNAUTHORIZED")

    # The admin's own session (made by the fixture) expires.
    async with ingest.runtime.sessions() as db, db.begin():
        await db.execute(update(Session).values(expires_at=Session.created_at))
    expired = await ingest.http.get("/api/v1/auth/me", headers=ingest.admin)
    assert_error(expired, 401, "UNAUTHORIZED")


async def test_a_disabled_user_cannot_log_in_or_use_a_session(
    ingest: Ingest, settings: Settings
) -> None:
    viewer = await as_viewer(ingest, settings)
    async with ingest.runtime.sessions() as db, db.begin():
        await db.execute(update(User).where(User.login == VIEWER[0]).values(enabled=False))

    assert_error(await ingest.http.get("/api/v1/auth/me", headers=viewer), 401, "UNAUTHORIZED")
    assert_error(await ingest.login(*VIEWER), 401, "UNAUTHORIZED")


async def test_a_viewer_reads_but_only_an_admin_changes(ingest: Ingest, settings: Settings) -> None:
    device = await ingest.device()
    viewer = await as_viewer(ingest, settings)

    assert (await ingest.http.get("/api/v1/admin/points", headers=viewer)).status_code == 200
    assert (await ingest.http.get("/api/v1/admin/devices", headers=viewer)).status_code == 200
    for method, url, body in (
        ("POST", "/api/v1/admin/points", {"organisation": "O", "name": "P"}),
        ("PATCH", f"/api/v1/admin/devices/{device.id}", {"enabled": False}),
        ("POST", "/api/v1/admin/users", {"login": "x", "password": "long enough pw"}),
        ("GET", "/api/v1/admin/users", None),
    ):
        response = await ingest.http.request(method, url, json=body, headers=viewer)
        assert_error(response, 403, "FORBIDDEN")
    for method, url in (("GET", "/api/v1/admin/points"), ("GET", "/api/v1/auth/me")):
        assert_error(await ingest.http.request(method, url), 401, "UNAUTHORIZED")
    # A device's token is not a user's.
    assert_error(
        await ingest.http.get("/api/v1/admin/points", headers=device.auth), 401, "UNAUTHORIZED"
    )


async def test_an_admin_manages_users_but_cannot_lock_themselves_out(ingest: Ingest) -> None:
    created = await ingest.http.post(
        "/api/v1/admin/users",
        json={"login": "owner", "password": "owner password", "role": "viewer"},
        headers=ingest.admin,
    )
    assert created.status_code == 201 and created.json()["role"] == "viewer"
    assert "password" not in created.text and "hash" not in created.text
    again = await ingest.http.post(
        "/api/v1/admin/users",
        json={"login": "owner", "password": "another password"},
        headers=ingest.admin,
    )
    assert_error(again, 409, "CONFLICT")
    short = await ingest.http.post(
        "/api/v1/admin/users", json={"login": "x", "password": "short"}, headers=ingest.admin
    )
    assert_error(short, 400, "BAD_REQUEST")
    assert (await ingest.login("owner", "owner password")).status_code == 200

    me = (await ingest.http.get("/api/v1/auth/me", headers=ingest.admin)).json()
    for change in ({"enabled": False}, {"role": "viewer"}):
        response = await ingest.http.patch(
            f"/api/v1/admin/users/{me['id']}", json=change, headers=ingest.admin
        )
        assert_error(response, 409, "CONFLICT")


async def test_login_attempts_are_limited_per_address_and_per_login(
    database_url: str, settings: Settings
) -> None:
    sc = settings.salescontrol
    auth = sc.auth.model_copy(update={"logins_per_minute": 3})
    business = settings.business.model_copy(
        update={"salescontrol": sc.model_copy(update={"auth": auth})}
    )
    async with serve(settings.model_copy(update={"business": business})) as ingest:
        # The fixture's own login was the first of three.
        for _ in range(2):
            assert_error(await ingest.login(ADMIN_LOGIN, "guess"), 401, "UNAUTHORIZED")
        limited = await ingest.login(ADMIN_LOGIN, "correct horse battery")
        assert_error(limited, 429, "RATE_LIMIT")
        assert int(limited.headers["Retry-After"]) >= 1
        # Guessing under another name from the same address is limited too.
        assert_error(await ingest.login(f"u{uuid.uuid4().hex[:4]}", "guess"), 429, "RATE_LIMIT")


async def test_a_device_token_is_shown_once_and_stored_only_hashed(ingest: Ingest) -> None:
    device = await ingest.device()
    token_id, secret = device.token.split(".", 1)
    assert len(secret) >= 32

    listed = await ingest.http.get("/api/v1/admin/devices", headers=ingest.admin)
    assert device.token not in listed.text and secret not in listed.text
    async with ingest.runtime.sessions() as db:
        row = await db.get(Device, uuid.UUID(device.id))
    assert row is not None and row.token_id == token_id
    assert secret.encode() not in row.token_hash and row.token_salt

"""The users page without a browser: an admin creates users, changes roles, disables
them (their sessions end at once) and resets passwords (one typed, or one generated
and shown once); an admin cannot lock themselves out and the last enabled admin
stays; a viewer gets 403 on the page and on every change; a form without its CSRF
token changes nothing."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from salescontrol.accounts import AccountError, change_user
from salescontrol.db.models import Session, User
from tests.salescontrol.dashboard.signed_in import SignedIn, as_admin, as_new_user
from tests.salescontrol.ingest.service import ADMIN_LOGIN, Ingest, serve, settings_for

SHOWN_PASSWORD = re.compile(r'data-testid="new-password".*?value="([^"]+)"', re.S)


@pytest.fixture
async def ingest(database_url: str, tmp_path: Path) -> AsyncIterator[Ingest]:
    async with serve(settings_for(database_url, tmp_path / "audio")) as running:
        yield running


async def user(ingest: Ingest, login: str) -> User:
    async with ingest.runtime.sessions() as db:
        found = await db.scalar(select(User).where(User.login == login))
    assert found is not None
    return found


async def sessions_of(ingest: Ingest, login: str) -> int:
    async with ingest.runtime.sessions() as db:
        count = await db.scalar(
            select(func.count()).select_from(Session).join(User).where(User.login == login)
        )
    return count or 0


async def can_log_in(ingest: Ingest, login: str, password: str) -> bool:
    response = await ingest.login(login, password)
    ingest.http.cookies.clear()
    return response.status_code == 200


async def still_signed_in(page: SignedIn) -> bool:
    response = await page.get("/devices")
    return response.status_code == 200


def shown_password(html: str) -> str | None:
    found = SHOWN_PASSWORD.search(html)
    return None if found is None else found[1]


async def test_the_admin_sees_every_user_and_creates_one(ingest: Ingest) -> None:
    admin = await as_admin(ingest)
    page = await admin.get("/users")
    assert page.status_code == 200
    assert f'data-user="{ADMIN_LOGIN}"' in page.text and "это вы" in page.text

    created = await admin.post(
        "/users", {"login": " cashier ", "role": "viewer", "password": "cashier-password"}
    )
    assert created.status_code == 303 and created.headers["location"] == "/users"
    made = await user(ingest, "cashier")
    assert (made.role, made.enabled) == ("viewer", True)
    assert "cashier-password" not in made.password_hash
    assert await can_log_in(ingest, "cashier", "cashier-password")
    listed = (await admin.get("/users")).text
    row = re.search(r'<tr data-user="cashier".*?</tr>', listed, re.S)
    assert row is not None and "наблюдатель" in row[0] and "никогда" not in row[0]

    taken = await admin.post("/users", {"login": "cashier", "role": "admin", "password": "x" * 12})
    assert taken.status_code == 409 and "логин уже занят" in taken.text
    short = await admin.post("/users", {"login": "shorty", "role": "viewer", "password": "short"})
    assert short.status_code == 400 and "не меньше 10" in short.text
    bad_role = await admin.post("/users", {"login": "boss", "role": "owner", "password": "x" * 12})
    assert bad_role.status_code == 400
    async with ingest.runtime.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == 2


async def test_a_generated_password_is_shown_once_and_works(ingest: Ingest) -> None:
    admin = await as_admin(ingest)
    created = await admin.post("/users", {"login": "manager", "role": "viewer"}, htmx=True)
    assert created.status_code == 200 and "<html" not in created.text
    assert created.headers["Cache-Control"] == "no-store"
    password = shown_password(created.text)
    assert password and len(password) >= 10
    assert await can_log_in(ingest, "manager", password)
    assert password not in (await admin.get("/users")).text

    target = await user(ingest, "manager")
    reset = await admin.post(f"/users/{target.id}/password", {})
    assert reset.status_code == 200 and "один раз" in reset.text
    new = shown_password(reset.text)
    assert new and new != password
    assert not await can_log_in(ingest, "manager", password)
    assert await can_log_in(ingest, "manager", new)


async def test_a_role_change_applies_to_the_users_live_session(ingest: Ingest) -> None:
    admin = await as_admin(ingest)
    other = await as_new_user(ingest, "deputy", "deputy-password", "viewer")
    target = await user(ingest, "deputy")
    assert (await other.post("/users", {"login": "x", "role": "viewer"})).status_code == 403

    promoted = await admin.post(f"/users/{target.id}/role", {"role": "admin"}, htmx=True)
    assert promoted.status_code == 200 and "администратор" in promoted.text
    assert (await other.get("/users")).status_code == 200
    demoted = await admin.post(f"/users/{target.id}/role", {"role": "viewer"})
    assert demoted.status_code == 303
    assert (await other.get("/users")).status_code == 403


async def test_disabling_a_user_ends_their_sessions_for_good(ingest: Ingest) -> None:
    admin = await as_admin(ingest)
    victim = await as_new_user(ingest, "leaver", "leaver-password", "admin")
    target = await user(ingest, "leaver")
    assert await still_signed_in(victim)

    disabled = await admin.post(f"/users/{target.id}/enabled", {"enabled": "0"})
    assert disabled.status_code == 303
    page = await victim.get("/devices")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert await sessions_of(ingest, "leaver") == 0
    assert not await can_log_in(ingest, "leaver", "leaver-password")

    # Enabled again: they log in anew; the session that was ended stays ended.
    assert (await admin.post(f"/users/{target.id}/enabled", {"enabled": "1"})).status_code == 303
    assert not await still_signed_in(victim)
    assert await can_log_in(ingest, "leaver", "leaver-password")


async def test_a_reset_password_ends_the_users_sessions(ingest: Ingest) -> None:
    admin = await as_admin(ingest)
    other = await as_new_user(ingest, "forgetful", "old-password-1", "viewer")
    target = await user(ingest, "forgetful")

    reset = await admin.post(f"/users/{target.id}/password", {"password": "new-password-1"})
    assert reset.status_code == 303
    assert not await still_signed_in(other)
    assert not await can_log_in(ingest, "forgetful", "old-password-1")
    assert await can_log_in(ingest, "forgetful", "new-password-1")
    short = await admin.post(f"/users/{target.id}/password", {"password": "tiny"})
    assert short.status_code == 400
    assert await can_log_in(ingest, "forgetful", "new-password-1")


async def test_an_admin_resetting_their_own_password_stays_signed_in(ingest: Ingest) -> None:
    admin = await as_admin(ingest)
    me = await user(ingest, ADMIN_LOGIN)
    other_session = await as_admin(ingest)

    reset = await admin.post(f"/users/{me.id}/password", {"password": "brand-new-password"})
    assert reset.status_code == 303
    assert await still_signed_in(admin)
    assert not await still_signed_in(other_session)
    assert await can_log_in(ingest, ADMIN_LOGIN, "brand-new-password")


@pytest.mark.parametrize(
    ("action", "form"), [("role", {"role": "viewer"}), ("enabled", {"enabled": "0"})]
)
async def test_an_admin_cannot_lock_themselves_out(
    ingest: Ingest, action: str, form: dict[str, str]
) -> None:
    admin = await as_admin(ingest)
    me = await user(ingest, ADMIN_LOGIN)

    response = await admin.post(f"/users/{me.id}/{action}", form)
    assert response.status_code == 409 and "Нельзя отключить себя" in response.text
    flash = await admin.post(f"/users/{me.id}/{action}", form, htmx=True)
    assert flash.status_code == 200 and "Нельзя отключить себя" in flash.text
    again = await user(ingest, ADMIN_LOGIN)
    assert (again.role, again.enabled) == ("admin", True)
    assert await still_signed_in(admin)
    # The page offers no such form for oneself.
    page = (await admin.get("/users")).text
    assert f"/users/{me.id}/role" not in page and f"/users/{me.id}/enabled" not in page


async def test_the_last_enabled_admin_cannot_be_removed(ingest: Ingest) -> None:
    me = await user(ingest, ADMIN_LOGIN)
    other = await as_new_user(ingest, "second", "second-password", "admin")
    second = await user(ingest, "second")
    admin = await as_admin(ingest)

    # Two admins: one may demote the other.
    assert (await admin.post(f"/users/{second.id}/role", {"role": "viewer"})).status_code == 303
    assert (await other.get("/users")).status_code == 403
    # Now one is left: no one (here a maintenance script acting for nobody) removes it.
    async with ingest.runtime.sessions() as db:
        for change in ({"role": "viewer"}, {"enabled": False}):
            with pytest.raises(AccountError) as refused:
                await change_user(db, uuid.uuid4(), me.id, **change)
            assert refused.value.reason == "last_admin"
    again = await user(ingest, ADMIN_LOGIN)
    assert (again.role, again.enabled) == ("admin", True)


async def test_a_viewer_gets_403_on_the_page_and_on_every_change(ingest: Ingest) -> None:
    viewer = await as_new_user(ingest, "watcher", "watcher-password", "viewer")
    me = await user(ingest, "watcher")
    admin = await user(ingest, ADMIN_LOGIN)

    page = await viewer.get("/users")
    assert page.status_code == 403 and ADMIN_LOGIN not in page.text
    nav = (await viewer.get("/devices")).text
    assert 'href="/users"' not in nav
    for path, form in (
        ("/users", {"login": "intruder", "role": "admin", "password": "intruder-password"}),
        (f"/users/{me.id}/role", {"role": "admin"}),
        (f"/users/{admin.id}/enabled", {"enabled": "0"}),
        (f"/users/{admin.id}/password", {"password": "hijacked-password"}),
    ):
        for htmx in (False, True):
            response = await viewer.post(path, form, htmx=htmx)
            assert response.status_code == 403, (path, htmx)
    async with ingest.runtime.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == 2
    assert (await user(ingest, "watcher")).role == "viewer"
    assert (await user(ingest, ADMIN_LOGIN)).enabled
    assert await can_log_in(ingest, ADMIN_LOGIN, "correct horse battery")


async def test_a_change_without_its_csrf_token_is_refused(ingest: Ingest) -> None:
    admin = await as_admin(ingest)
    other = await as_new_user(ingest, "target", "target-password", "viewer")
    target = await user(ingest, "target")
    for path, form in (
        ("/users", {"login": "sneaky", "role": "admin", "password": "sneaky-password"}),
        (f"/users/{target.id}/role", {"role": "admin"}),
        (f"/users/{target.id}/enabled", {"enabled": "0"}),
        (f"/users/{target.id}/password", {"password": "changed-password"}),
    ):
        for htmx in (False, True):
            response = await admin.post(path, form, htmx=htmx, csrf=False)
            assert response.status_code == 403, (path, htmx)
            assert "Форма устарела" in response.text
    assert (await user(ingest, "target")).role == "viewer"
    assert await still_signed_in(other)
    assert await can_log_in(ingest, "target", "target-password")
    async with ingest.runtime.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == 2


async def test_an_unknown_user_is_a_404(ingest: Ingest) -> None:
    admin = await as_admin(ingest)
    for path in (f"/users/{uuid.uuid4()}/role", "/users/not-a-uuid/role"):
        response = await admin.post(path, {"role": "viewer"})
        assert response.status_code == 404 and "Пользователь не найден" in response.text

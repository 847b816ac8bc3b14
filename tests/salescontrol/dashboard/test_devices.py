"""The devices page without a browser: when a device counts as online, offline or
silent (fixed clocks; hours across midnight; points in other zones; points without
hours), and the admin's forms — a registered device's token is shown once and works
on the device API, a disabled device's token is refused, points and registers are
renamed — while a viewer and a form without its CSRF token change nothing."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select, update

from salescontrol import fleet
from salescontrol.dashboard.queries.devices import (
    OFFLINE,
    SILENT,
    Facts,
    Hours,
    Limits,
    Verdict,
    judge,
    load_fleet,
)
from salescontrol.db.models import Device, Point, Register
from tests.salescontrol.dashboard.signed_in import as_admin, as_new_user
from tests.salescontrol.ingest.service import Ingest, serve, settings_for

LIMITS = Limits.of(offline_after_s=180, silent_after_s=900)
ALMATY = ZoneInfo("Asia/Almaty")
TOKEN = re.compile(r'value="([0-9a-f]{16}\.[A-Za-z0-9_-]{40,})"')
HEARTBEAT = {
    "recording": True,
    "queue": 7,
    "failed": 1,
    "errors": ["2026-01-15T09:00:00+05:00 upload: HTTP 503"],
    "disk_free_bytes": 3 * 1024**3,
    "version": "1.2.3",
}


@pytest.fixture
async def ingest(database_url: str, tmp_path: Path) -> AsyncIterator[Ingest]:
    async with serve(settings_for(database_url, tmp_path / "audio")) as running:
        yield running


def at(zone: ZoneInfo, day: int, hour: int, minute: int = 0) -> datetime:
    """A local clock time in January 2026 (no daylight saving anywhere used here)."""
    return datetime(2026, 1, day, hour, minute, tzinfo=zone)


def facts(
    now: datetime, *, seen: timedelta | None, uploaded: timedelta | None,
    enabled: bool = True, age: timedelta = timedelta(days=30),
) -> Facts:  # fmt: skip
    """A device last heard `seen` ago and last uploading `uploaded` ago."""
    return Facts(
        enabled,
        now - age,
        None if seen is None else now - seen,
        None if uploaded is None else now - uploaded,
    )


MINUTE = timedelta(minutes=1)
SHOP = Hours(ALMATY, time(8), time(22))


# --- the judgement, on fixed clocks ---------------------------------------------------


def test_a_device_reporting_and_uploading_within_hours_is_fine() -> None:
    now = at(ALMATY, 15, 12)
    assert judge(now, facts(now, seen=MINUTE, uploaded=2 * MINUTE), SHOP, LIMITS) == Verdict(
        online=True, in_hours=True
    )


def test_within_hours_an_unheard_device_is_offline_and_a_quiet_one_silent() -> None:
    now = at(ALMATY, 15, 12)
    offline = judge(now, facts(now, seen=10 * MINUTE, uploaded=10 * MINUTE), SHOP, LIMITS)
    assert offline == Verdict(False, True, OFFLINE, 10 * MINUTE)
    # Heartbeats arrive, uploads do not (ffmpeg failing, a full disk, a dead microphone).
    silent = judge(now, facts(now, seen=MINUTE, uploaded=20 * MINUTE), SHOP, LIMITS)
    assert silent == Verdict(True, True, SILENT, 20 * MINUTE)
    # Just within the limits: no warning.
    assert (
        judge(now, facts(now, seen=3 * MINUTE, uploaded=15 * MINUTE), SHOP, LIMITS).warning is None
    )


def test_outside_hours_nothing_is_a_warning() -> None:
    now = at(ALMATY, 15, 23)
    verdict = judge(now, facts(now, seen=3 * 60 * MINUTE, uploaded=None), SHOP, LIMITS)
    assert verdict == Verdict(online=False, in_hours=False)


def test_the_night_before_opening_is_not_silence() -> None:
    last = at(ALMATY, 14, 21, 59)
    opened_5_min_ago = at(ALMATY, 15, 8, 5)
    quiet = Facts(True, at(ALMATY, 1, 0), opened_5_min_ago - MINUTE, last)
    assert judge(opened_5_min_ago, quiet, SHOP, LIMITS).warning is None
    # 20 minutes after opening and still nothing uploaded: silent since the evening.
    later = at(ALMATY, 15, 8, 20)
    quiet = Facts(True, at(ALMATY, 1, 0), later - MINUTE, last)
    assert judge(later, quiet, SHOP, LIMITS) == Verdict(True, True, SILENT, later - last)
    # Not heard since the evening either: offline, once the grace after opening is over.
    unheard = Facts(True, at(ALMATY, 1, 0), last, last)
    assert judge(opened_5_min_ago, unheard, SHOP, LIMITS) == Verdict(False, True)
    assert judge(later, unheard, SHOP, LIMITS) == Verdict(False, True, OFFLINE, later - last)


def test_hours_across_midnight() -> None:
    bar = Hours(ALMATY, time(20), time(4))
    after_midnight = at(ALMATY, 15, 2)
    since_evening = facts(after_midnight, seen=MINUTE, uploaded=5 * 60 * MINUTE)  # 21:00
    assert judge(after_midnight, since_evening, bar, LIMITS) == Verdict(
        True, True, SILENT, 5 * 60 * MINUTE
    )
    closed = at(ALMATY, 15, 5)
    assert judge(closed, facts(closed, seen=None, uploaded=None), bar, LIMITS).in_hours is False
    # Ten minutes after the evening opening, the morning's last upload is no silence.
    opening = at(ALMATY, 15, 20, 10)
    assert bar.opened(opening) == at(ALMATY, 15, 20)
    assert bar.opened(after_midnight) == at(ALMATY, 14, 20)
    morning = Facts(True, at(ALMATY, 1, 0), opening - MINUTE, at(ALMATY, 15, 3, 59))
    assert judge(opening, morning, bar, LIMITS).warning is None


def test_the_hours_are_the_points_own_zone() -> None:
    now = datetime(2026, 1, 15, 3, 30, tzinfo=UTC)  # 12:30 in Tokyo, 04:30 in Berlin
    quiet = facts(now, seen=MINUTE, uploaded=60 * MINUTE)
    tokyo = Hours(ZoneInfo("Asia/Tokyo"), time(8), time(22))
    berlin = Hours(ZoneInfo("Europe/Berlin"), time(8), time(22))
    assert judge(now, quiet, tokyo, LIMITS).warning == SILENT
    assert judge(now, quiet, berlin, LIMITS) == Verdict(True, False)


def test_a_point_without_hours_records_around_the_clock() -> None:
    now = at(ALMATY, 15, 3)
    always = Hours(ALMATY)
    assert (
        judge(now, facts(now, seen=MINUTE, uploaded=30 * MINUTE), always, LIMITS).warning == SILENT
    )


def test_disabled_and_new_devices_are_not_warned_about() -> None:
    now = at(ALMATY, 15, 12)
    off = facts(now, seen=None, uploaded=None, enabled=False)
    assert judge(now, off, SHOP, LIMITS) == Verdict(False, True)
    # Registered ten minutes ago, being installed: no alarm yet.
    new = facts(now, seen=None, uploaded=None, age=10 * MINUTE)
    assert judge(now, new, SHOP, LIMITS) == Verdict(False, True)
    waiting = facts(now, seen=MINUTE, uploaded=None, age=20 * MINUTE)
    assert judge(now, waiting, SHOP, LIMITS) == Verdict(True, True, SILENT, 20 * MINUTE)
    never_came = facts(now, seen=None, uploaded=None, age=20 * MINUTE)
    assert judge(now, never_came, SHOP, LIMITS) == Verdict(False, True, OFFLINE, 20 * MINUTE)
    # Reports older than the row (loaded, restored) date the device from them.
    restored = Facts(True, now - MINUTE, now - 60 * MINUTE, now - 60 * MINUTE)
    assert judge(now, restored, SHOP, LIMITS) == Verdict(False, True, OFFLINE, 60 * MINUTE)


# --- the page's data from the database ------------------------------------------------


async def test_the_fleet_is_every_point_register_and_device_judged_at_a_clock(
    ingest: Ingest,
) -> None:
    now = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)  # 11:00 in Almaty, 15:00 in Tokyo
    async with ingest.runtime.sessions() as db:
        almaty, _ = await fleet.add_point(
            db, "Сеть", "Абая", "Asia/Almaty", "coffee_shop", time(8), time(22)
        )
        tokyo, _ = await fleet.add_point(
            db, "Сеть", "Гинза", "Asia/Tokyo", "coffee_shop", time(8), time(14)
        )
        await fleet.add_point(db, "Сеть", "Пустая", "Asia/Almaty", "coffee_shop")
        one = await fleet.add_register(db, almaty.id, "Касса 1")
        await fleet.add_register(db, almaty.id, "Касса 2")
        ginza = await fleet.add_register(db, tokyo.id, "Касса 1")
        fine, _ = await fleet.register_device(db, one.id, "pi-fine")
        silent, _ = await fleet.register_device(db, one.id, "pi-silent")
        closed, _ = await fleet.register_device(db, ginza.id, "pi-closed")
        for device, heard, uploaded in (
            (fine, MINUTE, MINUTE),
            (silent, 2 * 60 * MINUTE, 2 * 60 * MINUTE),
            (closed, 2 * 60 * MINUTE, 2 * 60 * MINUTE),
        ):
            await db.execute(
                update(Device)
                .where(Device.id == device.id)
                .values(created_at=now - timedelta(days=3), last_seen_at=now - heard,
                        last_upload_at=now - uploaded, last_health=HEARTBEAT)
            )  # fmt: skip
        await db.commit()
        seen = await load_fleet(db, now, LIMITS)

    by_point = {p.name: p for p in seen.points}
    assert list(by_point) == ["Абая", "Гинза", "Пустая"]
    assert [r.name for r in by_point["Абая"].registers] == ["Касса 1", "Касса 2"]
    assert by_point["Абая"].registers[1].devices == [] and by_point["Пустая"].registers == []
    assert by_point["Абая"].in_hours and not by_point["Гинза"].in_hours
    devices = {d.name: d for p in seen.points for r in p.registers for d in r.devices}
    assert devices["pi-fine"].verdict == Verdict(True, True)
    assert devices["pi-silent"].verdict == Verdict(False, True, OFFLINE, 2 * 60 * MINUTE)
    assert devices["pi-closed"].verdict == Verdict(False, False)
    assert [w.device.name for w in seen.warned] == ["pi-silent"]
    health = devices["pi-fine"]
    assert (health.queue, health.failed, health.disk_free_bytes) == (7, 1, 3 * 1024**3)
    assert health.errors == HEARTBEAT["errors"]


# --- the page and its forms -------------------------------------------------------------


async def shop(ingest: Ingest, hours: tuple[time, time] | None = None) -> Register:
    """A point (open around the clock unless `hours`) with one register."""
    async with ingest.runtime.sessions() as db:
        point, _ = await fleet.add_point(
            db, "Сеть", f"Точка {uuid.uuid4().hex[:4]}", "Asia/Almaty", "coffee_shop",
            *(hours or (None, None)),
        )  # fmt: skip
        return await fleet.add_register(db, point.id, "Касса 1")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def heartbeat(ingest: Ingest, token: str) -> httpx.Response:
    return await ingest.http.post(
        "/api/v1/devices/me/heartbeat", json=HEARTBEAT, headers=bearer(token)
    )


async def device_count(ingest: Ingest) -> int:
    async with ingest.runtime.sessions() as db:
        return await db.scalar(select(func.count()).select_from(Device)) or 0


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
async def test_a_registered_devices_token_is_shown_once_and_works(
    ingest: Ingest, htmx: bool
) -> None:
    register = await shop(ingest)
    admin = await as_admin(ingest)

    created = await admin.post(
        f"/devices/registers/{register.id}/devices", {"name": "pi-new"}, htmx=htmx
    )
    assert created.status_code == 200, created.text
    assert created.headers["Cache-Control"] == "no-store"
    tokens = TOKEN.findall(created.text)
    assert len(tokens) == 1
    token = tokens[0]
    assert "один раз" in created.text
    if htmx:
        # The flash fragment only, and the event that refreshes the page's body.
        assert created.headers["HX-Trigger"] == "devices-changed"
        assert "<html" not in created.text

    assert (await heartbeat(ingest, token)).status_code == 204
    page = await admin.get("/devices")
    assert page.status_code == 200
    token_id, secret = token.split(".")
    assert secret not in page.text and token_id not in page.text
    # The heartbeat is on the page: online, its queue, disk and errors.
    row = re.search(r'<tr data-device="pi-new".*?</tr>', page.text, re.S)
    assert row is not None
    assert "в сети" in row[0] and ">7<" in row[0] and "3,0 ГБ" in row[0]
    assert "не принято: 1" in row[0] and "upload: HTTP 503" in row[0]
    body = await admin.get("/devices/body", htmx=True)
    assert body.status_code == 200 and 'id="devices-body"' in body.text
    assert secret not in body.text

    # The same form sent again (a reload of the answer) makes no second device.
    again = await admin.post(f"/devices/registers/{register.id}/devices", {"name": "pi-new"})
    assert again.status_code == 409 and not TOKEN.search(again.text)
    assert await device_count(ingest) == 1


async def test_a_disabled_devices_token_is_refused_until_enabled(ingest: Ingest) -> None:
    register = await shop(ingest)
    async with ingest.runtime.sessions() as db:
        device, token = await fleet.register_device(db, register.id, "pi-1")
    admin = await as_admin(ingest)

    disabled = await admin.post(f"/devices/{device.id}/enabled", {"enabled": "0"})
    assert disabled.status_code == 303 and disabled.headers["location"] == "/devices"
    assert (await heartbeat(ingest, token)).status_code == 403
    upload = await ingest.http.put(
        f"/api/v1/devices/me/chunks/{uuid.uuid4()}",
        content=b"x",
        headers={**bearer(token), "X-Chunk-Start": "2026-01-15T09:00:00+05:00"},
    )
    assert upload.status_code == 403
    page = await admin.get("/devices")
    assert "отключено" in page.text and "Включить" in page.text

    enabled = await admin.post(f"/devices/{device.id}/enabled", {"enabled": "1"}, htmx=True)
    assert enabled.status_code == 200 and "включено" in enabled.text
    assert (await heartbeat(ingest, token)).status_code == 204


async def test_points_and_registers_are_added_and_renamed(ingest: Ingest) -> None:
    admin = await as_admin(ingest)
    added = await admin.post(
        "/devices/points",
        {"organisation": "Сеть", "name": "Ночной бар", "timezone": "Asia/Tokyo",
         "business": "coffee_shop", "opens_at": "20:00", "closes_at": "04:00"},
    )  # fmt: skip
    assert added.status_code == 303, added.text
    async with ingest.runtime.sessions() as db:
        point = await db.scalar(select(Point).where(Point.name == "Ночной бар"))
    assert point is not None
    assert (point.timezone, point.opens_at, point.closes_at) == ("Asia/Tokyo", time(20), time(4))

    assert (
        await admin.post(f"/devices/points/{point.id}/registers", {"name": "Касса 1"})
    ).status_code == 303
    renamed = await admin.post(
        f"/devices/points/{point.id}", {"name": "Бар", "opens_at": "", "closes_at": ""}
    )
    assert renamed.status_code == 303
    async with ingest.runtime.sessions() as db:
        bar = await db.get(Point, point.id)
        register = await db.scalar(select(Register).where(Register.point_id == point.id))
    assert bar is not None and register is not None
    assert (bar.name, bar.opens_at, bar.closes_at) == ("Бар", None, None)
    assert (
        await admin.post(f"/devices/registers/{register.id}", {"name": "Касса у окна"}, htmx=True)
    ).status_code == 200
    page = await admin.get("/devices")
    assert "Касса у окна" in page.text and "Бар" in page.text and "круглосуточно" in page.text


@pytest.mark.parametrize(
    ("path", "form", "status", "message"),
    [
        ("/devices/points", {"organisation": "С", "name": "Т", "timezone": "Mars/Base",
                             "business": "coffee_shop"}, 400, "часовой пояс"),
        ("/devices/points", {"organisation": "С", "name": "Т", "timezone": "Asia/Almaty",
                             "business": "casino"}, 400, "вид заведения"),
        ("/devices/points", {"organisation": "С", "name": "Т", "timezone": "Asia/Almaty",
                             "business": "coffee_shop", "opens_at": "08:00"}, 400, "закрытие"),
        ("/devices/points", {"organisation": "С", "name": "Т", "timezone": "Asia/Almaty",
                             "business": "coffee_shop", "opens_at": "8 утра",
                             "closes_at": "22:00"}, 400, "ЧЧ:ММ"),
        ("/devices/points", {"organisation": "С", "name": " ", "timezone": "Asia/Almaty",
                             "business": "coffee_shop"}, 400, "название точки"),
        ("/devices/registers/not-a-uuid", {"name": "К"}, 404, "Касса не найдена"),
        (f"/devices/registers/{uuid.uuid4()}/devices", {"name": "pi"}, 404, "Касса не найдена"),
        (f"/devices/{uuid.uuid4()}/enabled", {"enabled": "0"}, 404, "Устройство не найдено"),
        (f"/devices/{uuid.uuid4()}/enabled", {"enabled": "maybe"}, 400, "переключателя"),
    ],
)  # fmt: skip
async def test_a_bad_form_is_refused_with_its_reason(
    ingest: Ingest, path: str, form: dict[str, str], status: int, message: str
) -> None:
    admin = await as_admin(ingest)
    response = await admin.post(path, form)
    assert response.status_code == status
    assert message in response.text
    async with ingest.runtime.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Point)) == 0
    # With htmx the reason is the flash (htmx swaps only a 2xx answer).
    flash = await admin.post(path, form, htmx=True)
    assert flash.status_code == 200 and message in flash.text
    assert "HX-Trigger" not in flash.headers


async def test_a_silent_device_gets_a_banner_and_a_badge(ingest: Ingest) -> None:
    register = await shop(ingest)  # around the clock: now is always within hours
    async with ingest.runtime.sessions() as db:
        quiet, _ = await fleet.register_device(db, register.id, "pi-quiet")
        await fleet.register_device(db, register.id, "pi-busy")
        await db.execute(
            update(Device).values(
                created_at=func.now() - timedelta(days=1), last_seen_at=func.now()
            )
        )
        await db.execute(
            update(Device)
            .where(Device.id == quiet.id)
            .values(last_upload_at=func.now() - timedelta(hours=1))
        )
        await db.execute(
            update(Device).where(Device.id != quiet.id).values(last_upload_at=func.now())
        )
        await db.commit()
    admin = await as_admin(ingest)
    page = (await admin.get("/devices")).text

    banner = re.search(r'data-testid="silent-banner".*?</section>', page, re.S)
    assert banner is not None and "pi-quiet" in banner[0] and "pi-busy" not in banner[0]
    assert "нет записей 1 ч" in banner[0]
    quiet_row = re.search(r'<tr data-device="pi-quiet".*?</tr>', page, re.S)
    busy_row = re.search(r'<tr data-device="pi-busy".*?</tr>', page, re.S)
    assert quiet_row is not None and busy_row is not None
    assert 'data-warning="silent"' in quiet_row[0] and "Не пишет" in quiet_row[0]
    assert "warning-badge" not in busy_row[0]


async def test_a_viewer_sees_no_forms_and_changes_nothing(ingest: Ingest) -> None:
    register = await shop(ingest)
    async with ingest.runtime.sessions() as db:
        device, token = await fleet.register_device(db, register.id, "pi-1")
    viewer = await as_new_user(ingest, "watcher", "watcher-password", "viewer")

    page = await viewer.get("/devices")
    assert page.status_code == 200 and "pi-1" in page.text
    assert 'method="post" action="/devices' not in page.text
    assert "Подключить устройство" not in page.text and "Отключить" not in page.text
    for path, form in (
        (f"/devices/registers/{register.id}/devices", {"name": "pi-2"}),
        (f"/devices/{device.id}/enabled", {"enabled": "0"}),
        (f"/devices/registers/{register.id}", {"name": "Взломано"}),
        ("/devices/points", {"organisation": "С", "name": "Т", "timezone": "Asia/Almaty",
                             "business": "coffee_shop"}),
    ):  # fmt: skip
        for htmx in (False, True):
            response = await viewer.post(path, form, htmx=htmx)
            assert response.status_code == 403, (path, htmx)
            assert not TOKEN.search(response.text)
    assert await device_count(ingest) == 1
    assert (await heartbeat(ingest, token)).status_code == 204
    async with ingest.runtime.sessions() as db:
        assert (await db.get(Register, register.id)).name == "Касса 1"  # type: ignore[union-attr]


async def test_an_admins_form_without_its_csrf_token_changes_nothing(ingest: Ingest) -> None:
    register = await shop(ingest)
    admin = await as_admin(ingest)
    for htmx in (False, True):
        response = await admin.post(
            f"/devices/registers/{register.id}/devices", {"name": "pi-x"}, htmx=htmx, csrf=False
        )
        assert response.status_code == 403 and not TOKEN.search(response.text)
    forged = admin.csrf
    admin.csrf = "forged-" + forged
    response = await admin.post(f"/devices/registers/{register.id}/devices", {"name": "pi-x"})
    assert response.status_code == 403
    assert await device_count(ingest) == 0

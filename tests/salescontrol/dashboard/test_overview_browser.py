"""The overview in a real browser on the demo site: its figures are the database's
(counted here by a query of the test's own), the filters change them in place
without reloading the page, the results refresh themselves — a dialogue added
meanwhile appears — and a session that ends while the page polls leads to the
login form. Screenshots at desktop and phone width."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from salescontrol.db.engine import make_engine
from salescontrol.ingest.deps import SESSION_COOKIE
from salescontrol.security import session_digest
from tests.salescontrol.dashboard.site import Site

pytestmark = pytest.mark.slow

T = TypeVar("T")
ZONE = "Asia/Almaty"  # settings.yaml's dashboard.timezone: "today" of the presets
REFRESH_S = 15  # settings.yaml's dashboard.refresh_s


def run(coro: Coroutine[Any, Any, T]) -> T:
    """An async database call from a sync Playwright test (whose thread may hold
    an event loop): on a thread of its own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _sql(url: str, statement: str, **params: Any) -> list[Any]:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as db:
            result = await db.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


def sql(site: Site, statement: str, **params: Any) -> list[Any]:
    return run(_sql(site.database_url, statement, **params))


def counted(site: Site, first: date, last: date, point: str | None = None) -> tuple[int, int]:
    """(dialogues, analysed with an attempt) on the local days first..last of each
    dialogue's own point — written independently of the page's query."""
    row = sql(
        site,
        """
        SELECT count(*),
               count(*) FILTER (WHERE a.status = 'done' AND a.attempted = 'yes')
        FROM dialogues d
        JOIN points p ON p.id = d.point_id
        LEFT JOIN analyses a ON a.dialogue_id = d.id AND a.current
        WHERE (d.started_at AT TIME ZONE p.timezone)::date BETWEEN :first AND :last
          AND (CAST(:point AS uuid) IS NULL OR d.point_id = CAST(:point AS uuid))
        """,
        first=first,
        last=last,
        point=point,
    )[0]
    return int(row[0]), int(row[1])


def kpi(page: Any, index: int) -> str:
    return str(page.locator(f'.kpi[data-kpi="{index}"] .value').inner_text()).strip()


def dialogues_shown(page: Any) -> int:
    return int(re.sub(r"\D", "", kpi(page, 1)))


def wait_for_dialogues(page: Any, expected: int, timeout_s: float) -> None:
    """Until the KPI shows `expected` and htmx has settled the swap (a change made
    before the swapped-in form is set up would go unnoticed)."""
    page.wait_for_function(
        "n => Number(document.querySelector('.kpi[data-kpi=\"1\"] .value')"
        ".textContent.replace(/\\D/g, '')) === n"
        " && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')",
        arg=expected,
        timeout=timeout_s * 1000,
    )


def add_dialogue_now(site: Site, point: str) -> str:
    """A dialogue that started a minute ago on a register of `point`, judged as an
    attempt; its id."""
    device, register = sql(
        site,
        "SELECT device_id, register_id FROM dialogues WHERE point_id = :point LIMIT 1",
        point=point,
    )[0]
    dialogue = str(uuid.uuid4())
    started = datetime.now(UTC) - timedelta(minutes=1)
    sql(
        site,
        """
        INSERT INTO dialogues (id, device_id, register_id, point_id, started_at, ended_at,
                               state, closed_reason, closed_at, speech_s)
        VALUES (:id, :device, :register, :point, :started, :ended, 'closed', 'silence',
                :ended, 20)
        """,
        id=dialogue,
        device=device,
        register=register,
        point=point,
        started=started,
        ended=started + timedelta(seconds=30),
    )
    sql(
        site,
        """
        INSERT INTO analyses (dialogue_id, run, status, attempted, quality, categories,
                              customer_reaction, model, prompt_version)
        VALUES (:id, 1, 'done', 'yes', 2, '{dessert}', 'accepted', 'test', 'test')
        """,
        id=dialogue,
    )
    return dialogue


@pytest.fixture
def no_reload(page: Any) -> Callable[[], bool]:
    """Marks the page's window: the mark survives an htmx swap, not a page load."""

    def still_there() -> bool:
        return bool(page.evaluate("window.__notReloaded === true"))

    return still_there


def test_the_overview_shows_the_database_and_filters_in_place(
    site: Site, page: Any, login: Callable[..., Any], shoot: Callable[[Any, str], None]
) -> None:
    login(page, "viewer")
    today = datetime.now(ZoneInfo(ZONE)).date()
    week = counted(site, today - timedelta(days=6), today)
    assert week[0] > 0, "the demo loaded no dialogues"
    assert dialogues_shown(page) == week[0]
    shoot(page, "overview")

    page.evaluate("window.__notReloaded = true")
    page.get_by_role("link", name="Сегодня").click()
    page.wait_for_url(re.compile(rf"from={today.isoformat()}&to={today.isoformat()}"))
    wait_for_dialogues(page, counted(site, today, today)[0], 10)
    assert page.evaluate("window.__notReloaded === true")
    assert page.locator('input[name="from"]').input_value() == today.isoformat()

    # A point: the figures, the register list and the URL follow, still in place.
    page.get_by_role("link", name="7 дней").click()
    wait_for_dialogues(page, week[0], 10)
    points = sql(site, "SELECT id, name FROM points ORDER BY name")
    point_id, point_name = points[0]
    page.select_option('select[name="point"]', label=point_name)
    page.wait_for_url(re.compile(f"point={point_id}"))
    expected = counted(site, today - timedelta(days=6), today, str(point_id))
    wait_for_dialogues(page, expected[0], 10)
    registers = page.locator('select[name="register"] option').all_inner_texts()
    assert registers[1:] and all(r.startswith(f"{point_name} · ") for r in registers[1:])
    assert page.evaluate("window.__notReloaded === true")

    # The page without JavaScript's help: the same URL gives the same figures.
    page.reload()
    assert dialogues_shown(page) == expected[0]
    assert page.locator('select[name="point"]').input_value() == str(point_id)
    shoot(page, "overview-point")


def test_the_overview_refreshes_itself_until_the_session_ends(
    site: Site, page: Any, login: Callable[..., Any]
) -> None:
    login(page, "viewer")
    results = page.locator("#overview-results")
    assert results.get_attribute("hx-trigger", timeout=5000).startswith(f"every {REFRESH_S}s")
    before = dialogues_shown(page)
    page.evaluate("window.__notReloaded = true")
    point = str(sql(site, "SELECT id FROM points ORDER BY name LIMIT 1")[0][0])

    dialogue = add_dialogue_now(site, point)
    try:
        wait_for_dialogues(page, before + 1, REFRESH_S + 10)
        assert page.evaluate("window.__notReloaded === true")
    finally:
        sql(site, "DELETE FROM dialogues WHERE id = :id", id=dialogue)

    # This page's session only (other tests share the site's users).
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    sql(site, "DELETE FROM sessions WHERE token_hash = :hash", hash=session_digest(cookie["value"]))
    page.wait_for_url(re.compile(r"/login\?next=%2Foverview"), timeout=(REFRESH_S + 10) * 1000)
    assert page.locator("input[name=password]").is_visible()

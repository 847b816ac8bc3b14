"""The overview page over HTTP (no browser): the figures and their changes against
the previous period as a person reads them, the fragment htmx asks for and its
live refresh keeping the filters, a lapsed session sending the refresh to the
login form, and filters that cannot be read ignored rather than failing."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from salescontrol.db.models import Session
from tests.salescontrol.dashboard.test_overview_queries import Chain, lay_chain
from tests.salescontrol.ingest.service import (
    ADMIN_LOGIN,
    ADMIN_PASSWORD,
    Ingest,
    serve,
    settings_for,
)

WEEK = "/overview?from=2026-03-01&to=2026-03-07"
HTMX = {"HX-Request": "true"}


@pytest.fixture
async def ingest(database_url: str, tmp_path: Path) -> AsyncIterator[Ingest]:
    async with serve(settings_for(database_url, tmp_path / "audio")) as running:
        yield running


@pytest.fixture
async def chain(ingest: Ingest) -> Chain:
    return await lay_chain(ingest)


def kpis(html: str) -> list[tuple[str, str, str]]:
    """(value, previous, change) of each KPI card, as shown."""
    cards = re.findall(
        r'<div class="value">(.*?)</div>\s*<div class="muted">\s*было (.*?)\s*'
        r"(?:<span[^>]*>(.*?)</span>)?\s*</div>",
        html,
        re.S,
    )
    return [(v, p, " ".join(c.split())) for v, p, c in cards]


async def logged_in(ingest: Ingest) -> httpx.AsyncClient:
    assert (await ingest.login(ADMIN_LOGIN, ADMIN_PASSWORD)).status_code == 200
    return ingest.http


async def test_the_figures_and_their_changes(ingest: Ingest, chain: Chain) -> None:
    http = await logged_in(ingest)
    page = await http.get(WEEK)

    assert page.status_code == 200
    assert "<html" in page.text and 'id="overview"' in page.text
    # 6 dialogues against 2; half attempted against half; quality 1.5 against 1.0;
    # one of two accepted against one of one.
    assert kpis(page.text) == [
        ("6", "2", "▲ +200 %"),
        ("50 %", "50 %", "0 п.п."),
        ("1.5", "1.0", "▲ +0.5"),
        ("50 %", "100 %", "▼ \u221250 п.п."),
    ]
    assert "слишком мало речи: 1" in page.text and "ещё не проанализированные (1)" in page.text
    for title in ("По дням", "По часам", "По точкам", "По кассам", "По категориям"):
        assert f"<h2>{title}</h2>" in page.text
    assert page.text.count("<svg") == 5
    # Category labels come from the settings' kind of shop.
    assert '<th scope="row">десерт</th>' in page.text


async def test_htmx_gets_the_fragment_that_refreshes_itself_with_its_filters(
    ingest: Ingest, chain: Chain
) -> None:
    http = await logged_in(ingest)
    point = chain.bogota.point.id
    fragment = await http.get(f"{WEEK}&point={point}", headers=HTMX)

    assert fragment.status_code == 200
    assert "<html" not in fragment.text and fragment.text.lstrip().startswith('<div id="overview">')
    assert kpis(fragment.text)[0] == ("1", "1", "0 %")
    refresh = re.search(r'<div id="overview-results"[^>]*>', fragment.text)
    assert refresh is not None
    assert f'hx-get="/overview?from=2026-03-01&amp;to=2026-03-07&amp;point={point}"' in refresh[0]
    assert 'hx-trigger="every 15s' in refresh[0]
    assert fragment.headers["vary"] == "HX-Request"
    # The register list offers only the chosen point's registers.
    assert "Токио · Касса" not in fragment.text and "Богота · Касса 1" in fragment.text


async def test_without_a_session_nothing_is_shown(ingest: Ingest, chain: Chain) -> None:
    page = await ingest.http.get(WEEK)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=%2Foverview%3Ffrom%3D2026-03-01")

    poll = await ingest.http.get(WEEK, headers=HTMX)
    assert poll.status_code == 401 and poll.headers["HX-Redirect"].startswith("/login?next=")
    assert "Токио" not in poll.text


async def test_a_refresh_after_the_session_expired_goes_to_the_login_form(
    ingest: Ingest, chain: Chain
) -> None:
    http = await logged_in(ingest)
    assert (await http.get(WEEK, headers=HTMX)).status_code == 200

    async with ingest.runtime.sessions() as db, db.begin():
        await db.execute(update(Session).values(expires_at=Session.created_at))
    poll = await http.get(WEEK, headers=HTMX)

    assert poll.status_code == 401
    assert (
        poll.headers["HX-Redirect"]
        == "/login?next=%2Foverview%3Ffrom%3D2026-03-01%26to%3D2026-03-07"
    )
    assert "6" not in poll.text


async def test_unreadable_or_unknown_filters_are_ignored(ingest: Ingest, chain: Chain) -> None:
    http = await logged_in(ingest)
    tokyo_second = chain.tokyo.registers["Касса 2"].id
    for query in (
        "from=yesterday&to=2026-13-45",
        f"point=not-a-uuid&register={uuid.uuid4()}",
        "from=2026-03-07&to=2026-03-01&point=&register=",  # reversed: swapped
        "from=1900-01-01&to=9999-12-31",  # at most a year
    ):
        page = await http.get(f"/overview?{query}")
        assert page.status_code == 200, query
    swapped = await http.get("/overview?from=2026-03-07&to=2026-03-01")
    assert kpis(swapped.text)[0][0] == "6"
    # A register of another point than the chosen one is dropped, the point kept.
    mixed = await http.get(f"{WEEK}&point={chain.bogota.point.id}&register={tokyo_second}")
    assert kpis(mixed.text)[0][0] == "1"


async def test_a_chain_without_dialogues_gets_empty_charts(ingest: Ingest) -> None:
    http = await logged_in(ingest)
    page = await http.get(WEEK)

    assert page.status_code == 200
    assert kpis(page.text) == [("0", "0", ""), ("—", "—", ""), ("—", "—", ""), ("—", "—", "")]
    assert page.text.count("Нет данных за период") >= 4

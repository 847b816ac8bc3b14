"""A logged-out visitor in a real browser on the demo site sees nothing: every
dashboard route (taken from the app, as test_access.py does, so a new page is
covered without editing this test) and a dialogue's audio URL lead to the login
form, and no page content, transcript or audio byte reaches the browser — checked
on every response it got, the player's own requests included. The same probes,
after logging in, do see the dialogue's transcript and audio. The login form's
screenshot at desktop and phone width."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Page, Response, expect

from salescontrol.ingest.app import create_app
from tests.salescontrol.dashboard.site import Site
from tests.salescontrol.dashboard.test_access import dashboard_routes
from tests.salescontrol.dashboard.test_overview_browser import sql
from tests.salescontrol.ingest.service import settings_for

pytestmark = pytest.mark.slow

PLAY = """url => new Promise(resolve => {
  const player = new Audio();
  player.oncanplay = () => resolve("playable");
  player.onerror = () => resolve(player.error ? player.error.code : -1);
  setTimeout(() => resolve("timeout"), 15000);
  player.src = url;
})"""
MEDIA_ERR_SRC_NOT_SUPPORTED = 4


def seeded_dialogue(site: Site) -> tuple[str, str]:
    """A demo dialogue with a transcript: its id and the text of its longest line."""
    rows = sql(
        site,
        """
        SELECT d.id, s->>'text'
        FROM dialogues d
        JOIN transcripts t ON t.dialogue_id = d.id, jsonb_array_elements(t.segments) s
        ORDER BY length(s->>'text') DESC
        LIMIT 1
        """,
    )
    assert rows, "the demo has transcribed dialogues"
    dialogue, line = rows[0]
    assert len(line.strip()) >= 20, line
    return str(dialogue), line.strip()


def sent_to_login(status: int, headers: dict[str, str]) -> bool:
    return status == 303 and headers.get("location", "").startswith("/login?next=")


def test_without_a_session_every_route_and_the_audio_lead_to_the_login_form(
    site: Site, page: Page, login: Callable[..., Any], shoot: Callable[[Page, str], None]
) -> None:
    dialogue, line = seeded_dialogue(site)
    points = [name for (name,) in sql(site, "SELECT name FROM points")]
    app = create_app(settings_for(site.database_url, site.audio_dir))
    routes = dashboard_routes(app, {"dialogue_id": dialogue})
    audio = f"/dialogues/{dialogue}/audio"
    assert ("GET", audio) in routes and ("GET", f"/dialogues/{dialogue}") in routes
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))

    for method, path in routes:
        if method != "GET":  # a form's target: what a posted form would get
            answer = page.request.fetch(f"{site.url}{path}", method=method, max_redirects=0)
            assert sent_to_login(answer.status, answer.headers), (method, path)
            assert answer.body() == b"", (method, path)
            continue
        page.goto(f"{site.url}{path}")
        page.wait_for_url(f"{site.url}/login?next={quote(path, safe='')}")
        expect(page.locator("input[name=password]")).to_be_visible()
        shown = page.locator("body").inner_text()
        assert line not in shown, path
        assert not [name for name in points if name in shown], path

    # The player asks as a player does (a Range request) and gets nothing to play.
    assert page.evaluate(PLAY, f"{site.url}{audio}") == MEDIA_ERR_SRC_NOT_SUPPORTED
    for headers in ({}, {"Range": "bytes=0-"}):
        answer = page.request.get(f"{site.url}{audio}", headers=headers, max_redirects=0)
        assert sent_to_login(answer.status, answer.headers) and answer.body() == b""

    asked = {urlsplit(r.url).path for r in responses}
    assert {path for method, path in routes if method == "GET"} <= asked
    for response in responses:
        where = urlsplit(response.url).path
        assert (
            where in ("/login", "/favicon.ico")
            or where.startswith("/static/")
            or (sent_to_login(response.status, response.headers))
        ), (response.url, response.status)
        assert not response.headers.get("content-type", "").startswith("audio/"), response.url
    assert [r for r in responses if urlsplit(r.url).path == audio], "the player asked"
    page.goto(f"{site.url}/login")
    shoot(page, "login")

    # The same probes see the dialogue once logged in: they would notice a leak.
    login(page, "viewer")
    page.goto(f"{site.url}/dialogues/{dialogue}")
    assert line in page.locator("#transcript").inner_text()
    played = page.request.get(f"{site.url}{audio}", headers={"Range": "bytes=0-"})
    assert played.status in (200, 206) and played.body()[:4] == b"OggS"
    assert re.match(r"audio/", played.headers["content-type"])

"""The dialogue list and a dialogue's page in a real browser on the demo site: the
filters change the rows in place (and the address, so the filtered list is a link),
a found dialogue's transcript holds the searched word, the audio plays (the player's
time advances), a click on a transcript line seeks the player to that line's time,
and the evidence quotes are marked. Screenshots at desktop and phone width."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.salescontrol.dashboard.site import Site

pytestmark = pytest.mark.slow

SEEK_TOLERANCE_S = 0.3
CURRENT_TIME = "document.getElementById('player').currentTime"


def count_text(page: Any) -> str:
    return str(page.locator("#dialogue-count").inner_text()).strip()


def shown(page: Any) -> int:
    return int(page.locator("table.dialogues tbody tr").count())


def change_rows(page: Any, action: Callable[[], None]) -> None:
    """Do `action` and wait until htmx has swapped in other results."""
    before = count_text(page)
    action()
    page.wait_for_function(
        "before => document.querySelector('#dialogue-count').innerText.trim() !== before",
        arg=before,
    )


def test_filter_open_play_and_seek(
    site: Site, page: Any, login: Callable[..., Any], shoot: Callable[[Any, str], None]
) -> None:
    login(page, "admin")
    page.goto(f"{site.url}/dialogues")
    all_rows = shown(page)
    assert all_rows > 0, "the demo has dialogues in the default period"
    shoot(page, "dialogues")

    # A filter swaps the results in place and puts itself in the address.
    page.evaluate("window.notReloaded = true")
    change_rows(page, lambda: page.select_option("select[name=attempted]", "no"))
    assert re.search(r"[?&]attempted=no\b", page.url)
    cells = page.locator("table.dialogues tbody tr td:nth-child(4)").all_inner_texts()
    assert cells and all(cell.strip() == "Нет" for cell in cells)
    assert page.evaluate("window.notReloaded") is True

    # The text search: every dialogue found says the word (in some form).
    page.goto(f"{site.url}/dialogues")
    change_rows(page, lambda: page.fill("#filter-q", "сироп"))
    assert re.search(r"[?&]q=%D1%81%D0%B8%D1%80%D0%BE%D0%BF", page.url)
    found = shown(page)
    assert 0 < found < all_rows
    page.locator("table.dialogues tbody tr a").first.click()
    page.wait_for_url(re.compile(r"/dialogues/[0-9a-f-]{36}$"))
    assert "сироп" in page.locator("#transcript").inner_text().lower()

    # A dialogue with an offer: its evidence is marked in the transcript.
    page.goto(f"{site.url}/dialogues?attempted=yes")
    page.locator("table.dialogues tbody tr a").first.click()
    page.wait_for_url(re.compile(r"/dialogues/[0-9a-f-]{36}$"))
    assert page.locator("#transcript mark.evidence").count() > 0
    shoot(page, "dialogue")

    # The audio plays: the player's time advances.
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    duration = float(page.evaluate("document.getElementById('player').duration"))
    lines = page.locator("#transcript p[data-seek]")
    seeks = [float(v) for v in lines.evaluate_all("ps => ps.map(p => p.dataset.seek)")]
    assert len(seeks) >= 2 and max(seeks) < duration
    page.evaluate("document.getElementById('player').play()")
    page.wait_for_timeout(1500)
    assert float(page.evaluate(CURRENT_TIME)) > 0.5

    # A click on a line seeks to its time: forward to the last line, back to the first.
    for index in (len(seeks) - 1, 0):
        lines.nth(index).click()
        page.wait_for_function(
            f"Math.abs({CURRENT_TIME} - {seeks[index]}) <= {SEEK_TOLERANCE_S}", timeout=5000
        )
        assert page.evaluate("document.getElementById('player').paused") is False

"""Reviews in a real browser on the demo site: an admin flags a dialogue, corrects
its quality and the customer's reaction and resolves the review — each form swapping
the panel in place — sees it on /reviews and downloads the CSV export with it; a
viewer sees the review and no form, and a forged POST with the viewer's own session
and CSRF token is refused. Screenshots at desktop and phone width."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from salescontrol.dashboard.exports import BOM, DELIMITER
from salescontrol.dashboard.templating import REACTION
from tests.salescontrol.dashboard.site import Site

pytestmark = pytest.mark.slow

REASON = "Покупатель отказался от десерта, а анализ пишет «согласился»"


def swap(page: Any, action: Callable[[], None], notice: str) -> None:
    """Do `action` (a form of the panel) and wait for htmx's answer in the panel."""
    action()
    page.locator("#review-panel .notice", has_text=notice).wait_for()


def test_flag_correct_resolve_and_export(
    site: Site,
    page: Any,
    browser: Any,
    login: Callable[..., Any],
    shoot: Callable[[Any, str], None],
    tmp_path: Path,
) -> None:
    login(page, "admin")
    # A dialogue with an offer that nobody has reviewed yet.
    page.goto(f"{site.url}/dialogues?attempted=yes&review=none")
    page.locator("table.dialogues tbody tr a").first.click()
    page.wait_for_url(re.compile(r"/dialogues/[0-9a-f-]{36}$"))
    dialogue_url = page.url
    dialogue_id = dialogue_url.rsplit("/", 1)[1]
    panel = page.locator("#review-panel")
    assert "Диалог не отмечен для проверки" in panel.inner_text()
    page.evaluate("window.notReloaded = true")

    panel.locator("textarea[name=reason]").fill(REASON)
    swap(page, lambda: panel.get_by_role("button", name="Отметить для проверки").click(), "отмечен")
    assert REASON in panel.locator(".review-reason").inner_text()

    # Values other than the machine's (the form starts with them), so that both
    # are corrections whichever dialogue comes first.
    quality = "2" if panel.locator("select[name=quality]").input_value() == "1" else "1"
    machine = panel.locator("select[name=customer_reaction]").input_value()
    reaction = "accepted" if machine == "rejected" else "rejected"
    panel.locator("select[name=quality]").select_option(quality)
    panel.locator("select[name=customer_reaction]").select_option(reaction)
    swap(
        page, lambda: panel.get_by_role("button", name="Сохранить исправления").click(), "сохранены"
    )
    corrected = panel.locator("table.corrections")
    assert corrected.locator("tr[data-field=quality] td").last.inner_text() == quality
    assert (
        corrected.locator("tr[data-field=customer_reaction] td").last.inner_text()
        == (REACTION[reaction])
    )
    # The form shows the corrections now.
    assert panel.locator("select[name=quality]").input_value() == quality
    shoot(page, "review-panel")

    swap(page, lambda: panel.get_by_role("button", name="Проверка решена").click(), "решена")
    assert panel.locator(".review .badge").first.inner_text() == "Решена"
    assert panel.locator("form.corrections-form").count() == 0
    assert page.evaluate("window.notReloaded") is True, "htmx swapped, no reload"

    # On the list of reviews, linked to the dialogue.
    page.goto(f"{site.url}/reviews")
    row = page.locator(f"tr[data-dialogue='{dialogue_id}']")
    assert "Решена" in row.inner_text() and "Качество" in row.inner_text()
    shoot(page, "reviews")

    with page.expect_download() as info:
        page.get_by_role("link", name="Выгрузить CSV").click()
    download = info.value
    assert re.fullmatch(
        r"reviews_\d{4}-\d\d-\d\d_\d{4}-\d\d-\d\d\.csv", download.suggested_filename
    )
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_bytes().decode("utf-8")
    assert text.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(text.removeprefix(BOM)), delimiter=DELIMITER))
    [exported] = [r for r in rows if r["dialogue_id"] == dialogue_id]
    assert exported["review_reason"] == REASON and exported["review_status"] == "resolved"
    assert exported["corrected_quality"] == quality
    assert exported["corrected_customer_reaction"] == reaction
    assert (exported["quality"], exported["customer_reaction"]) != (quality, reaction)
    assert exported["transcript"], "the transcript goes with the corrections"

    # A viewer sees the review, and no form to change it.
    context = browser.new_context()
    try:
        viewer = login(context.new_page(), "viewer")
        viewer.goto(dialogue_url)
        viewer_panel = viewer.locator("#review-panel")
        assert REASON in viewer_panel.inner_text()
        assert viewer_panel.locator("form").count() == 0
        shoot(viewer, "review-panel-viewer")

        # A forged POST with the viewer's own session and CSRF token is refused.
        headers = viewer.locator("body").get_attribute("hx-headers")
        csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', headers or "")
        assert csrf
        for path, form in (
            (f"/dialogues/{dialogue_id}/reviews", {"reason": "от зрителя"}),
            (f"/dialogues/{dialogue_id}/reanalyse", {}),
        ):
            refused = viewer.request.post(
                f"{site.url}{path}", form={"csrf_token": csrf.group(1), **form}, max_redirects=0
            )
            assert refused.status == 403, path
        viewer.reload()
        assert "от зрителя" not in viewer.locator("#review-panel").inner_text()
        assert viewer.locator("#review-panel .review").count() == 1
    finally:
        context.close()

"""Errors as a person in a real browser meets them on the demo site: a form refused
by htmx says why in the page's error area (app.js lets htmx show a 4xx/5xx answer
there) without reloading the page; an unknown dialogue is a 404 page in Russian;
an over-long filter is ignored and the page renders. Screenshots at both widths."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.salescontrol.dashboard.site import Site
from tests.salescontrol.dashboard.test_overview_browser import sql

pytestmark = pytest.mark.slow

TOO_LONG = 1001  # forms.TextField takes at most 1000 characters


def test_errors_are_pages_and_htmx_shows_its_own_in_place(
    site: Site, page: Page, login: Callable[..., Any], shoot: Callable[[Page, str], None]
) -> None:
    login(page, "admin")
    page.goto(f"{site.url}/devices")
    page.evaluate("window.__notReloaded = true")
    register = page.locator("tbody[data-register]").first
    register.locator("summary").click()
    field = register.locator('input[name=name][placeholder="pi-1"]')
    # What the field's maxlength keeps a person from typing, a forged form can send.
    field.evaluate(
        "(input, n) => { input.removeAttribute('maxlength'); input.value = 'я'.repeat(n); }",
        TOO_LONG,
    )
    register.locator("button", has_text="Подключить устройство").click()

    alert = page.locator("#page-error [role=alert]")
    expect(alert).to_contain_text("Неверный запрос")
    assert page.evaluate("window.__notReloaded === true")
    assert page.url == f"{site.url}/devices"
    assert not sql(site, "SELECT 1 FROM devices WHERE length(name) >= :n", n=TOO_LONG)
    shoot(page, "error-in-page")

    missing = page.goto(f"{site.url}/dialogues/{uuid.uuid4()}")
    assert missing is not None and missing.status == 404
    assert missing.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", name="Диалог не найден")).to_be_visible()
    shoot(page, "error-404")

    ignored = page.goto(f"{site.url}/overview?from={'7' * 41}&point={'x' * 2000}")
    assert ignored is not None and ignored.status == 200
    expect(page.locator('.kpi[data-kpi="1"] .value')).to_be_visible()

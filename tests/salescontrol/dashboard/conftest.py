"""Fixtures of the dashboard's tests: the app on a fresh database for the tests
without a browser, one demo site per test session (see site.py) and a real Chromium
— Debian's chromium-headless-shell, driven by Playwright through `executable_path`,
since Playwright's own browser download cannot be used here."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from tests.salescontrol.dashboard.site import Site, start_site, stop_site
from tests.salescontrol.ingest.service import Ingest, serve, settings_for
from tests.salescontrol.pg import Cluster
from tests.support.shopday import missing_tools

CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last in the session: sync Playwright keeps an event loop
    running in the main thread from its first test to the session's end, and an
    async test after it could not start its own ("Runner.run() cannot be called
    from a running event loop")."""
    in_browser = [item for item in items if "page" in getattr(item, "fixturenames", ())]
    if in_browser:
        chosen = set(in_browser)
        items[:] = [item for item in items if item not in chosen] + in_browser


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path / "audio")


@pytest.fixture
async def ingest(settings: Settings) -> AsyncIterator[Ingest]:
    """The app on a fresh database behind an in-process client (no browser), its
    admin logged in by Bearer token only: a test says how its requests log in."""
    async with serve(settings) as running:
        yield running


@pytest.fixture(scope="session")
def site(cluster: Cluster) -> Iterator[Site]:
    if shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg is not installed (apt install ffmpeg; .ci/run installs it)")
    missing = missing_tools()
    if missing:
        pytest.skip(f"the demo's shop day needs {', '.join(missing)} (.ci/run installs them)")
    site = start_site(cluster)
    yield site
    stop_site(site, cluster)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if CHROMIUM is None:
        pytest.skip("no Chromium (apt install chromium-headless-shell; .ci/run installs it)")
    # The audio player must play without a sound card and without a user gesture.
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--autoplay-policy=no-user-gesture-required"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # As the shops' managers see it: Russian dates in the date inputs, Almaty's clock.
    return {**browser_context_args, "locale": "ru-RU", "timezone_id": "Asia/Almaty"}


@pytest.fixture
def login(site: Site) -> Callable[..., Any]:
    """Log a Playwright page in as `admin` or `viewer`; returns the page."""

    def log_in(page: Any, role: str = "admin") -> Any:
        user, password = site.users[role]
        page.goto(f"{site.url}/login")
        page.fill("input[name=login]", user)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{site.url}/overview")
        return page

    return log_in


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture
def shoot(site: Site) -> Callable[[Any, str], None]:
    """Screenshots of a page at desktop and phone width, into build/screenshots."""

    def take(page: Any, name: str) -> None:
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.screenshot(path=str(site.screenshots / f"{name}-{label}.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

    return take

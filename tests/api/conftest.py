"""Fixtures of the API tests: the environment of a test service and a client.

A module that sets `BACKENDS = ("sqlite", "postgresql")` runs each of its tests
that uses the service on both: SQLite (DB_PATH) and a fresh database on the
session's embedded PostgreSQL (DATABASE_URL). A test marked `sqlite_only` checks
something only SQLite has (its file, its pragmas) and runs once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.service import KEY, serve
from tests.support.postgres import BotPostgres, start_or_skip


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    backends = getattr(metafunc.module, "BACKENDS", ("sqlite",))
    if metafunc.definition.get_closest_marker("sqlite_only"):
        backends = ("sqlite",)
    if len(backends) > 1:
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture(scope="session")
def bot_postgres() -> Iterator[BotPostgres]:
    server = start_or_skip()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """A fresh PostgreSQL database for the test, or None on SQLite."""
    if backend != "postgresql":
        yield None
        return
    server: BotPostgres = request.getfixturevalue("bot_postgres")
    url = server.fresh_database()
    yield url
    server.drop(url)


@pytest.fixture
def api_env(env: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> Path:
    monkeypatch.setenv("API_KEY", KEY)
    monkeypatch.delenv("DEV_MODE", raising=False)
    monkeypatch.delenv("LOG_CONVERSATION_TEXT", raising=False)
    # SalesControl's DATABASE_URL of a developer's shell must not switch the bot.
    monkeypatch.delenv("DATABASE_URL", raising=False)
    if database_url is not None:
        monkeypatch.setenv("DATABASE_URL", database_url)
    return env


@pytest.fixture
async def client(api_env: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve() as http:
        yield http

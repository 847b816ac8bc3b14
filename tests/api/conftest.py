"""Fixtures of the API tests: the environment of a test service and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.api.service import KEY, serve


@pytest.fixture
def api_env(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("API_KEY", KEY)
    monkeypatch.delenv("DEV_MODE", raising=False)
    monkeypatch.delenv("LOG_CONVERSATION_TEXT", raising=False)
    return env


@pytest.fixture
async def client(api_env: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with serve() as http:
        yield http

"""The ingest API on a fresh database for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.settings import Settings
from tests.salescontrol.ingest.service import INTERNAL_TOKEN, Ingest, serve, settings_for


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(
        database_url, tmp_path / "audio", SALESCONTROL_INTERNAL_TOKEN=INTERNAL_TOKEN
    )


@pytest.fixture
async def ingest(settings: Settings) -> AsyncIterator[Ingest]:
    async with serve(settings) as running:
        yield running

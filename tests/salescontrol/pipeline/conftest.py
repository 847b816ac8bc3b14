"""The pipeline's tests on a fresh database with one device."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from salescontrol.db.engine import make_engine, session_factory
from tests.salescontrol.pipeline.fleet import Fleet, make_fleet


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url, pool_size=5)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def fleet(sessions: async_sessionmaker[AsyncSession]) -> Fleet:
    return await make_fleet(sessions)

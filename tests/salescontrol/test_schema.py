"""The migrations are the schema: they create exactly what the models declare, run
again without effect, and undo cleanly."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from salescontrol.db.engine import make_engine
from salescontrol.db.migrate import alembic_config, upgrade
from salescontrol.db.models import Base
from tests.salescontrol.pg import Cluster


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection)
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _inspect(url: str) -> tuple[list[object], set[str]]:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_differences), await conn.run_sync(_tables)
    finally:
        await engine.dispose()


async def test_the_migrations_create_exactly_the_models(database_url: str) -> None:
    differences, tables = await _inspect(database_url)
    assert differences == []
    assert {
        "organisations", "points", "registers", "devices", "audio_chunks", "jobs",
        "speech_segments", "dialogues", "transcripts", "analyses", "reviews", "users",
        "sessions",
    } <= tables  # fmt: skip


async def test_the_migrations_run_again_and_undo(cluster: Cluster) -> None:
    url = await cluster.empty_database()
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(upgrade, url)  # nothing to do
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
    _, tables = await _inspect(url)
    assert tables == {"alembic_version"}
    await asyncio.to_thread(upgrade, url)
    differences, _ = await _inspect(url)
    assert differences == []
    await cluster.drop(url)

"""The migrations are the schema: they create exactly what the models declare, run
again without effect, and undo cleanly."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
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


async def test_devices_sharing_a_name_at_a_register_keep_their_rows_under_0006(
    cluster: Cluster,
) -> None:
    """Before 0006 a rename could take a taken name: the oldest keeps it, a later
    one gets its id appended, and the constraint then holds."""
    url = await cluster.empty_database()
    await asyncio.to_thread(upgrade, url, "0005")
    conn = await asyncpg.connect(url)
    try:
        register = await conn.fetchval(
            "WITH o AS (INSERT INTO organisations (id, name) "
            "           VALUES (gen_random_uuid(), 'o') RETURNING id), "
            "p AS (INSERT INTO points (id, organisation_id, name, timezone) "
            "      SELECT gen_random_uuid(), id, 'p', 'UTC' FROM o RETURNING id) "
            "INSERT INTO registers (id, point_id, name) "
            "SELECT gen_random_uuid(), id, 'r' FROM p RETURNING id"
        )
        add = (
            "INSERT INTO devices (id, register_id, name, token_id, token_salt, token_hash, "
            "created_at) VALUES (gen_random_uuid(), $1, $2, $3, '', '', "
            "now() + make_interval(secs => $4)) RETURNING id"
        )
        made = [
            await conn.fetchval(add, register, name, f"t{n}", n)
            for n, name in enumerate(("pi-1", "pi-1", "pi-2", "pi-1"))
        ]
        await asyncio.to_thread(upgrade, url)
        names = dict(await conn.fetch("SELECT id, name FROM devices"))
        assert names == {
            made[0]: "pi-1",
            made[1]: f"pi-1 ({made[1]})",
            made[2]: "pi-2",
            made[3]: f"pi-1 ({made[3]})",
        }
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("UPDATE devices SET name = 'pi-1' WHERE id = $1", made[2])
    finally:
        await conn.close()
        await cluster.drop(url)

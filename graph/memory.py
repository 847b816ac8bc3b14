"""Conversation memory: LangGraph's AsyncSqliteSaver on a SQLite file opened by
`core.db` (WAL, busy timeout), or its AsyncPostgresSaver on a connection pool
when the state lives in PostgreSQL (several instances)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from core.db import DEFAULT_SQLITE, SQLiteOptions, open_sqlite

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    from core.postgres import Pool


@asynccontextmanager
async def open_checkpointer(
    db_path: str | Path, options: SQLiteOptions = DEFAULT_SQLITE
) -> AsyncIterator[AsyncSqliteSaver]:
    async with open_sqlite(db_path, options) as conn:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield saver


async def postgres_checkpointer(pool: Pool) -> AsyncPostgresSaver:
    """The saver on `pool` (autocommit, dict rows: core.postgres.open_pool), its
    tables created or migrated. Run it under core.advisory.exclusive when several
    instances may start at once: the saver's own migrations are not."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    saver = AsyncPostgresSaver(pool)
    await saver.setup()
    return saver

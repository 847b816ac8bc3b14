"""Conversation memory: LangGraph's AsyncSqliteSaver on a SQLite file opened by
`core.db` (WAL, busy timeout)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from core.db import DEFAULT_SQLITE, SQLiteOptions, open_sqlite


@asynccontextmanager
async def open_checkpointer(
    db_path: str | Path, options: SQLiteOptions = DEFAULT_SQLITE
) -> AsyncIterator[AsyncSqliteSaver]:
    async with open_sqlite(db_path, options) as conn:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield saver

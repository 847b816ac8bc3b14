"""Conversation memory: LangGraph's AsyncSqliteSaver on a WAL-mode SQLite file.

WAL lets readers (profile endpoint, backups) run beside the writer; the busy
timeout makes concurrent writers wait instead of failing with "database is locked".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver


async def configure_connection(conn: aiosqlite.Connection, busy_timeout_ms: int) -> None:
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    # NORMAL in WAL mode survives a process crash (kill -9); only an OS crash
    # or power loss can lose the last commits.
    await conn.execute("PRAGMA synchronous=NORMAL")


@asynccontextmanager
async def open_sqlite(
    db_path: str | Path, *, timeout_s: float = 30.0, busy_timeout_ms: int = 5000
) -> AsyncIterator[aiosqlite.Connection]:
    """A configured connection; the directory of the file is created if needed."""
    if str(db_path) != ":memory:":
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(str(db_path), timeout=timeout_s) as conn:
        await configure_connection(conn, busy_timeout_ms)
        yield conn


@asynccontextmanager
async def open_checkpointer(
    db_path: str | Path, *, timeout_s: float = 30.0, busy_timeout_ms: int = 5000
) -> AsyncIterator[AsyncSqliteSaver]:
    async with open_sqlite(db_path, timeout_s=timeout_s, busy_timeout_ms=busy_timeout_ms) as conn:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield saver

"""The operational tables in the SQLite file beside the graph's checkpoints (the
embedded default, one process).

All of a turn's rows are written in one transaction, after the turn's
checkpoint. The checkpoint is the truth: when a crash falls between the two, the
next request of the customer finds the tables behind the thread and writes them
from it (api.delivery).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from api.store import sql
from api.store.base import SQLStore
from core.db import DEFAULT_SQLITE, SQLiteOptions, open_sqlite


@dataclass
class _Writer:
    conn: aiosqlite.Connection

    async def execute(self, statement: str, parameters: Sequence[Any] = ()) -> int:
        cur = await self.conn.execute(statement, parameters)
        return cur.rowcount

    async def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        await self.conn.executemany(statement, rows)


@dataclass
class SQLiteStore(SQLStore):
    """The tables on one connection, shared by every request. A transaction must not
    interleave with another request's writes (a commit would take their half
    along), so every write holds the store's lock, and a failed one rolls back at
    once (an open transaction would hold SQLite's write lock)."""

    conn: aiosqlite.Connection
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    dialect = sql.SQLITE

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[_Writer]:
        async with self._lock:
            try:
                yield _Writer(self.conn)
                await self.conn.commit()
            except BaseException:
                # Shielded: a cancelled request must still release the write lock.
                await asyncio.shield(self.conn.rollback())
                raise

    async def claim(
        self, session_id: str, user_id: str, request_id: str, owner: str, until: float
    ) -> bool:
        """Always granted: one process owns the file, and its per-customer lock
        (core.concurrency) is the whole truth of who runs a turn."""
        return True

    async def release(self, session_id: str, user_id: str, request_id: str, owner: str) -> None:
        return None

    async def setup(self) -> None:
        await self.conn.executescript(";\n".join(sql.schema(sql.SQLITE)) + ";")
        async with self._transaction():
            # A column added since a table was created (a new profile field, the
            # request's fingerprint) is added to it.
            await self._add_missing("user_profiles", sql.PROFILE_COLUMNS)
            await self._add_missing("processed_requests", {"fingerprint": "TEXT"})

    async def _add_missing(self, table: str, columns: dict[str, str]) -> None:
        async with self.conn.execute(f"PRAGMA table_info({table})") as cur:
            present = {row[1] for row in await cur.fetchall()}
        for name, kind in columns.items():
            if name not in present:
                await self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    async def _one(self, statement: str, parameters: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        # A read needs no lock: between two statements of another request's
        # transaction it sees that request's customer only, never its own rows
        # half written.
        async with self.conn.execute(statement, parameters) as cur:
            row = await cur.fetchone()
        return tuple(row) if row is not None else None

    async def _all(self, statement: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        async with self._lock, self.conn.execute(statement, parameters) as cur:
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in await cur.fetchall()]


@asynccontextmanager
async def open_store(
    db_path: str | Path, options: SQLiteOptions = DEFAULT_SQLITE
) -> AsyncIterator[SQLiteStore]:
    async with open_sqlite(db_path, options) as conn:
        store = SQLiteStore(conn)
        await store.setup()
        yield store

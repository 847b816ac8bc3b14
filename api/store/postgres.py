"""The operational tables on PostgreSQL (DATABASE_URL): shared by every instance
of the bot, on the connection pool the checkpointer uses.

Each read takes a pooled connection for one statement; a turn's record is one
transaction on one connection. The schema is migrated at start-up
(api.store.migrations).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row, tuple_row

from api.store import sql
from api.store.base import SQLStore
from api.store.migrations import migrate
from core import postgres

if TYPE_CHECKING:
    from core.postgres import Pool


@dataclass
class _Writer:
    conn: AsyncConnection[Any]

    async def execute(self, statement: str, parameters: Sequence[Any] = ()) -> int:
        cur = await self.conn.execute(sql.POSTGRES.sql(statement), parameters)
        return cur.rowcount

    async def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self.conn.cursor() as cur:
            await cur.executemany(sql.POSTGRES.sql(statement), rows)


@dataclass
class PostgresStore(SQLStore):
    pool: Pool
    dialect = sql.POSTGRES

    async def setup(self) -> None:
        async with self.pool.connection() as conn:
            await migrate(conn)

    async def purge_expired(self, ttl_s: float) -> int:
        async with self._transaction() as tx:
            await tx.execute(sql.PURGE_CLAIMS, (time.time(),))
        return await super().purge_expired(ttl_s)

    async def ping(self) -> bool:
        return await postgres.ping(self.pool)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[_Writer]:
        async with self.pool.connection() as conn, conn.transaction():
            yield _Writer(conn)

    async def _one(self, statement: str, parameters: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        async with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(self.dialect.sql(statement), parameters)
            return await cur.fetchone()

    async def _all(self, statement: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(self.dialect.sql(statement), parameters)
            return await cur.fetchall()

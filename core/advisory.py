"""Serialization per key across processes and hosts: PostgreSQL advisory locks.

`AdvisoryLocks.hold(key)` first queues behind this process's other holders of
the key (core.concurrency.KeyedLocks, FIFO, no connection spent on waiting), then
takes a transaction-scoped advisory lock on a connection of its own pool
(`pg_advisory_xact_lock` keyed by a 64-bit hash of the key) and keeps that
transaction open while the caller works. The server queues the waiters of other
instances; `lock_timeout`, set from the caller's deadline, turns a wait past it
into LockTimeout, as the in-process lock does.

Why transaction-scoped: the lock ends with the transaction whatever happens to
its holder — COMMIT when the holder is done, the pool's rollback of a connection
returned mid-transaction, or the server ending the backend when the holder's
process dies and its connection closes (kill -9, a lost host once TCP notices;
the server's `tcp_keepalives_*` settings bound that). A session lock would leak
into the pool's next user if its unlock failed.

Advisory locks belong to one database: every instance of the bot must use the
same DATABASE_URL database, which is what sharing the state means anyway.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any

from core.concurrency import KeyedLocks, LockTimeout

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from core.postgres import Pool

NAMESPACE = b"salesbot:customer:"
"""Keeps the bot's keys apart from any other advisory-lock user of the database."""


def advisory_key(key: str) -> int:
    """A signed 64-bit key (PostgreSQL's bigint) for `key`, the same in every process."""
    digest = hashlib.sha256(NAMESPACE + key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLocks:
    """One holder of a key at a time across every process on the database."""

    def __init__(self, pool: Pool, local: KeyedLocks | None = None):
        self.pool = pool
        self.local = local or KeyedLocks()
        self._releasing: set[asyncio.Future[None]] = set()

    @asynccontextmanager
    async def hold(self, key: str, deadline: float | None = None) -> AsyncIterator[None]:
        """Hold `key`; waiting past `deadline` (the event loop's clock) raises
        LockTimeout. The connection's death releases the lock on the server."""
        from psycopg import errors
        from psycopg_pool import PoolTimeout

        loop = asyncio.get_running_loop()
        async with self.local.hold(key, deadline):
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise LockTimeout
            try:
                conn = await self.pool.getconn(timeout=remaining)
            except PoolTimeout:
                raise LockTimeout from None
            try:
                try:
                    await conn.execute("BEGIN")
                    wait_ms = 0 if remaining is None else max(1, int(remaining * 1000))
                    await conn.execute(
                        "SELECT set_config('lock_timeout', %s, true)", (f"{wait_ms}ms",)
                    )
                    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key(key),))
                except (errors.LockNotAvailable, errors.QueryCanceled):
                    raise LockTimeout from None
                yield
            finally:
                # In a task of its own, shielded: a cancelled holder still ends
                # the transaction (letting the next holder in at once) and gives
                # the connection back.
                release = asyncio.ensure_future(self._release(conn))
                self._releasing.add(release)
                release.add_done_callback(self._releasing.discard)
                await asyncio.shield(release)

    async def _release(self, conn: AsyncConnection[Any]) -> None:
        try:
            # A dead connection has no lock left to release: the server ended it.
            with suppress(Exception):
                await conn.execute("COMMIT")
        finally:
            # The pool rolls back a connection left in a transaction and drops a
            # broken one.
            await self.pool.putconn(conn)

    def __len__(self) -> int:
        return len(self.local)


@asynccontextmanager
async def exclusive(pool: Pool, name: str) -> AsyncIterator[None]:
    """One process at a time in the block, across every instance: a session
    advisory lock on one connection, for start-up work such as migrations (a
    process that dies in it closes the connection, which releases the lock)."""
    key = advisory_key(name)
    async with pool.connection() as conn:
        # Polled rather than a blocking pg_advisory_lock: a waiting statement keeps
        # its snapshot, and the holder's CREATE INDEX CONCURRENTLY (the checkpoint
        # saver's migrations) waits for every older snapshot, a deadlock PostgreSQL
        # cannot see (found starting two workers on a fresh database).
        while not await _try_lock(conn, key):
            await asyncio.sleep(EXCLUSIVE_POLL_S)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


EXCLUSIVE_POLL_S = 0.2


async def _try_lock(conn: AsyncConnection[Any], key: int) -> bool:
    query = "SELECT pg_try_advisory_lock(%s) AS taken"
    row = await (await conn.execute(query, (key,))).fetchone()
    return bool(row and row["taken"])

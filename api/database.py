"""Where the bot keeps its state, chosen by the environment: the SQLite file
(DB_PATH, the embedded default, one process) or a PostgreSQL server
(DATABASE_URL=postgresql://…, shared by several instances).

`open_database` gives the request handlers the same things on both: the graphs
(with their checkpointer), the operational tables (api.store), the per-customer
lock, and whether the state is shared with other instances.

What is shared between instances on PostgreSQL:
- the checkpoints and the three tables;
- the per-customer lock: an advisory lock keyed by the customer's thread
  (core.advisory), so one customer's turns run one at a time on whichever
  instances receive them, and a duplicate request_id waits for the first and
  gets its stored answer;
- not the rate limits: they stay per instance (core.concurrency). They guard an
  instance's model and CPU, which are per instance, against a runaway client;
  behind nginx's round robin each instance sees 1/N of a client's requests, so
  the effective limit is N times the configured one — set it per instance with
  that in mind. Sharing them would cost a database round trip per request for
  a limit that is a safety net, not a quota.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from api.store import Store, open_store
from core import postgres
from core.concurrency import KeyedLocks
from core.settings import Settings
from graph.builder import SalesGraph, compile_graph
from graph.memory import open_checkpointer

log = logging.getLogger("salesbot.api")

MIGRATIONS_LOCK = "schema-migrations"


class CustomerLocks(Protocol):
    def hold(self, key: str, deadline: float | None = None) -> Any:
        """An async context manager: the key's lock held (LockTimeout past deadline)."""
        ...

    def __len__(self) -> int: ...


@dataclass
class Database:
    backend: str
    """"sqlite" or "postgresql"."""
    graphs: list[SalesGraph]
    store: Store
    locks: CustomerLocks
    shared: bool
    """Whether other instances may write the same state (then nothing about a
    customer may be cached in this process between requests)."""
    pools: dict[str, Callable[[], dict[str, int]]] = field(default_factory=dict)

    def status(self) -> dict[str, Any]:
        """What /ready tells of the database: its kind and its pools' use."""
        return {"backend": self.backend, "pools": {n: stats() for n, stats in self.pools.items()}}


def database_url(settings: Settings) -> str | None:
    """DATABASE_URL when it names a PostgreSQL server; None means SQLite (DB_PATH)."""
    url = settings.env.database_url
    return url if postgres.is_postgres_url(url) else None


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    url = database_url(settings)
    async with AsyncExitStack() as stack:
        if url is None:
            yield await _sqlite(settings, stack)
        else:
            yield await _postgres(settings, url, stack)


async def _sqlite(settings: Settings, stack: AsyncExitStack) -> Database:
    env = settings.env
    graphs = [
        compile_graph(await stack.enter_async_context(open_checkpointer(env.db_path, env.sqlite)))
        for _ in range(settings.api.memory_connections)
    ]
    store = await stack.enter_async_context(open_store(env.db_path, env.sqlite))
    return Database("sqlite", graphs, store, KeyedLocks(), shared=False)


async def _postgres(settings: Settings, url: str, stack: AsyncExitStack) -> Database:
    # Imported here: psycopg and the saver are the optional `postgres` extra.
    from api.store.postgres import PostgresStore
    from core.advisory import AdvisoryLocks, exclusive
    from graph.memory import postgres_checkpointer

    sizes = settings.api.postgres
    data = await stack.enter_async_context(
        postgres.open_pool(
            url,
            postgres.PoolSize(sizes.pool_min_size, sizes.pool_max_size, sizes.pool_timeout_s),
            "salesbot-data",
        )
    )
    lock_pool = await stack.enter_async_context(
        postgres.open_pool(
            url,
            postgres.PoolSize(0, sizes.lock_connections, sizes.pool_timeout_s),
            "salesbot-locks",
        )
    )
    store = PostgresStore(data)
    async with exclusive(data, MIGRATIONS_LOCK):
        saver = await postgres_checkpointer(data)
        await store.setup()
    log.info("database", extra={"backend": "postgresql", "url": postgres.redacted(url)})
    return Database(
        "postgresql",
        [compile_graph(saver)],
        store,
        AdvisoryLocks(lock_pool),
        shared=True,
        pools={
            "data": lambda: postgres.pool_stats(data),
            "locks": lambda: postgres.pool_stats(lock_pool),
        },
    )

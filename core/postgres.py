"""PostgreSQL connections for the sales bot when DATABASE_URL names a server.

One psycopg pool per purpose: the checkpointer and the operational tables share
a pool of short queries; the per-customer locks (core.advisory) have their own,
because each holds a connection for a whole turn (seconds) and must never take
the connections the turn itself needs to write its checkpoint.

psycopg (not asyncpg) because langgraph-checkpoint-postgres is built on it; the
connections are autocommit with dict rows and no server-side prepared statements,
which is what its saver expects (and what works behind PgBouncer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow
    from psycopg_pool import AsyncConnectionPool

    Pool: TypeAlias = AsyncConnectionPool[AsyncConnection[DictRow]]
    """What open_pool gives: connections whose rows are dicts."""

SCHEMES = ("postgresql", "postgres")


def is_postgres_url(url: str | None) -> bool:
    """Whether `url` names a PostgreSQL server (`postgresql://`, `postgres://`, or
    either with a `+driver` suffix as SQLAlchemy spells it)."""
    if not url:
        return False
    scheme = urlsplit(url).scheme.split("+", 1)[0].lower()
    return scheme in SCHEMES


def conninfo(url: str) -> str:
    """The URL as libpq takes it: a `+driver` suffix (SalesControl's
    `postgresql+asyncpg://`) dropped."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+", 1)[0]))


def redacted(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True, slots=True)
class PoolSize:
    min_size: int = 1
    max_size: int = 8
    timeout_s: float = 10.0
    """How long a caller waits for a free connection before PoolTimeout."""


@asynccontextmanager
async def open_pool(url: str, size: PoolSize, name: str) -> AsyncIterator[Pool]:
    """An open pool of autocommit, dict-row connections; the server must answer
    before this returns (a wrong URL fails the start, not the first turn)."""
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    pool: Pool = AsyncConnectionPool(
        conninfo(url),
        min_size=size.min_size,
        max_size=size.max_size,
        timeout=size.timeout_s,
        kwargs=kwargs,
        name=name,
        open=False,
        # A connection that died with its server (a restart, a failover) is
        # found before a request gets it.
        check=AsyncConnectionPool.check_connection,
    )
    await pool.open(wait=True, timeout=size.timeout_s)
    try:
        yield pool
    finally:
        await pool.close()


def pool_stats(pool: Pool) -> dict[str, int]:
    """What /ready reports of a pool: its size, idle connections, waiting callers."""
    stats = pool.get_stats()
    return {
        "size": stats.get("pool_size", 0),
        "available": stats.get("pool_available", 0),
        "max": pool.max_size,
        "waiting": stats.get("requests_waiting", 0),
    }


async def ping(pool: Pool, timeout_s: float = 2.0) -> bool:
    try:
        async with pool.connection(timeout=timeout_s) as conn:
            cur = await conn.execute("SELECT 1 AS ok")
            row = await cur.fetchone()
            return row is not None
    except Exception:
        return False


def unavailable_errors() -> tuple[type[Exception], ...]:
    """The exceptions that say the server is out of reach or out of free
    connections for now (a retry may succeed), rather than that a statement is
    wrong; none on the SQLite-only install."""
    try:
        from psycopg import OperationalError
        from psycopg_pool import PoolTimeout
    except ImportError:
        return ()
    return (OperationalError, PoolTimeout)


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` is one of `unavailable_errors`."""
    return isinstance(exc, unavailable_errors())

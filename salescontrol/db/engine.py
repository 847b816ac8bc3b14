"""The database engine and sessions: SQLAlchemy 2's asyncio API over asyncpg."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def async_url(url: str) -> str:
    """`url` with the asyncpg driver (postgresql://… → postgresql+asyncpg://…);
    a Unix socket is given as `?host=/path`, as the embedded server's URLs do."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan"}
"""asyncpg prepares every statement, and after five runs PostgreSQL may switch to
a generic plan that ignores the values: for the dashboard's periods (bounds per
point's zone) and text search that plan guessed a handful of rows and read every
dialogue of the period with its transcript (0.5 s instead of 20 ms on 100,000
dialogues, bench.dashboard). Planning with the values costs well under a
millisecond."""


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    # pool_pre_ping: a connection the server closed (a restart, a failover) is
    # replaced instead of failing the request that draws it.
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"server_settings": SERVER_SETTINGS},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: a row read in a transaction stays readable after it.
    return async_sessionmaker(engine, expire_on_commit=False)

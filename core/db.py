"""Opening a SQLite database the way every part of the service needs it.

WAL lets readers (the profile endpoint, backups) run beside the writer; the busy
timeout makes concurrent writers wait instead of failing with "database is
locked"; synchronous=NORMAL in WAL mode survives a process crash (kill -9), and
only an OS crash or power loss can lose the last commits.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosqlite


@dataclass(frozen=True, slots=True)
class SQLiteOptions:
    timeout_s: float = 30.0
    """How long Python's driver waits for a lock (SQLITE_TIMEOUT_SECONDS)."""
    busy_timeout_ms: int = 5000
    """How long SQLite itself retries a locked database (SQLITE_BUSY_TIMEOUT_MS)."""


DEFAULT_SQLITE = SQLiteOptions()


async def configure_connection(conn: aiosqlite.Connection, busy_timeout_ms: int) -> None:
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    await conn.execute("PRAGMA synchronous=NORMAL")


DIRECTORY_MODE = 0o750
FILE_MODE = 0o640
"""Conversations are personal data: the service's user writes them, its group (the
backup job) may read them, nobody else."""


def prepare_directory(db_path: str | Path) -> None:
    """Create the database file's directory, and the file itself, readable only by
    the service's user and group; an OSError names what failed."""
    if str(db_path) == ":memory:":
        return
    path = Path(db_path)
    path.parent.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    # SQLite would create the file with the process's umask (world-readable by
    # default) and gives its -wal and -shm files the same mode.
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE))


@asynccontextmanager
async def open_sqlite(
    db_path: str | Path, options: SQLiteOptions = DEFAULT_SQLITE
) -> AsyncIterator[aiosqlite.Connection]:
    """A configured connection; the directory of the file is created if needed."""
    prepare_directory(db_path)
    async with aiosqlite.connect(str(db_path), timeout=options.timeout_s) as conn:
        await configure_connection(conn, options.busy_timeout_ms)
        yield conn

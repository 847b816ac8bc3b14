"""The embedded PostgreSQL the SalesControl tests run on: one server per test
session, the schema migrated once into a template database, and a fresh database
copied from it for every test (a copy takes a few tens of milliseconds)."""

from __future__ import annotations

import asyncio
import atexit
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from salescontrol.db.migrate import upgrade

TEMPLATE = "sc_template"


class Cluster:
    """A running embedded server with a migrated template database."""

    def __init__(self, pgdata: Path):
        from salescontrol.db.embedded import create_database, start

        self.server = start(pgdata)
        url = asyncio.run(create_database(self.server, TEMPLATE))
        upgrade(url)

    def url(self, name: str) -> str:
        return self.server.get_uri(name)

    async def fresh_database(self) -> str:
        """A new database with the current schema; its URL."""
        from salescontrol.db.embedded import create_database

        name = f"t_{uuid.uuid4().hex[:16]}"
        return await create_database(self.server, name, template=TEMPLATE)

    async def empty_database(self) -> str:
        """A new database without any schema; its URL."""
        from salescontrol.db.embedded import create_database

        return await create_database(self.server, f"e_{uuid.uuid4().hex[:16]}")

    async def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        admin = await asyncpg.connect(self.url("postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    def stop(self) -> None:
        self.server.cleanup()
        # Stopped now: its exit hook would only log into pytest's closed streams.
        atexit.unregister(self.server._cleanup)

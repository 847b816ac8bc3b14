"""The `salescontrol` command: the schema and the first admin on a fresh database,
and a clear one-line refusal when the database is not configured."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from sqlalchemy import select

from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import User
from salescontrol.security import password_matches
from tests.salescontrol.pg import Cluster


def salescontrol(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "salescontrol", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=120,
    )


async def test_the_schema_and_the_first_admin_from_the_command_line(cluster: Cluster) -> None:
    url = await cluster.empty_database()
    try:
        upgraded = await asyncio.to_thread(salescontrol, "db", "upgrade", DATABASE_URL=url)
        assert upgraded.returncode == 0, upgraded.stderr
        create = ("users", "create", "--login", "boss", "--admin", "--password-stdin")
        made = await asyncio.to_thread(
            salescontrol, *create, stdin="a long secret\n", DATABASE_URL=url
        )
        assert made.returncode == 0, made.stderr
        assert "boss" in made.stdout and "admin" in made.stdout

        engine = make_engine(url, pool_size=1)
        async with session_factory(engine)() as db:
            [user] = list(await db.scalars(select(User)))
        await engine.dispose()
        assert user.role == "admin" and password_matches("a long secret", user.password_hash)
        assert "a long secret" not in user.password_hash

        again = await asyncio.to_thread(salescontrol, *create, stdin="x" * 12, DATABASE_URL=url)
        assert again.returncode == 1 and "taken" in again.stderr
        short = ("users", "create", "--login", "v", "--password-stdin")
        weak = await asyncio.to_thread(salescontrol, *short, stdin="short\n", DATABASE_URL=url)
        assert weak.returncode == 1 and "at least" in weak.stderr
    finally:
        await cluster.drop(url)


def test_serve_refuses_to_start_without_a_database() -> None:
    result = salescontrol("serve")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: DATABASE_URL is not set (for development: salescontrol dev)"
    ]


async def test_a_wrong_database_is_one_line_not_a_traceback(cluster: Cluster) -> None:
    url = cluster.url("no_such_database")
    result = await asyncio.to_thread(salescontrol, "db", "upgrade", DATABASE_URL=url)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        'salescontrol db: database: database "no_such_database" does not exist'
    ]

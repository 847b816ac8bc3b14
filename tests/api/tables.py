"""The service's tables read (or changed) directly, on whichever backend the
test's environment points the service at (DATABASE_URL or DB_PATH)."""

from __future__ import annotations

import sqlite3
from typing import Any

from api.store.sql import POSTGRES
from core.postgres import conninfo, is_postgres_url
from core.settings import load_settings


def rows(statement: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of `statement` (`?` placeholders), committed if it changes any."""
    env = load_settings().env
    if is_postgres_url(env.database_url):
        import psycopg

        assert env.database_url is not None
        with psycopg.connect(conninfo(env.database_url), autocommit=True) as conn:
            cur = conn.execute(POSTGRES.sql(statement), parameters)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
    with sqlite3.connect(env.db_path) as db:
        return db.execute(statement, parameters).fetchall()

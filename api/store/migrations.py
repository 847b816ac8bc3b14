"""The PostgreSQL schema of the operational tables: plain SQL migrations, applied
in order at start-up and recorded in `schema_version`.

Why not Alembic: the bot has three tables, no ORM and no SQLAlchemy; Alembic would
bring both for what a list of numbered statements does. Each migration runs in
one transaction with its row in `schema_version`, so a start-up that dies
half-way leaves the previous version whole; concurrent start-ups of several
instances take turns (api.database runs this under an advisory lock).

The profile columns follow core.taxonomy.PROFILE, as on SQLite: a field added
to the taxonomy becomes a column at the next start (`ADD COLUMN IF NOT EXISTS`),
not a migration of its own; anything else that changes the tables' shape is a
new numbered migration appended here (never edit an applied one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.store import sql


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "user_profiles, conversations, processed_requests",
        tuple(sql.schema(sql.POSTGRES)),
    ),
    Migration(2, "request_claims: a request_id taken before its turn runs", (sql.CLAIMS_TABLE,)),
)

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


async def current_version(conn: Any) -> int:
    cur = await conn.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")
    row = await cur.fetchone()
    return int(row["v"])


async def migrate(conn: Any) -> int:
    """Apply the migrations `conn`'s database lacks (an autocommit psycopg
    connection with dict rows); the version it is at afterwards."""
    await conn.execute(VERSION_TABLE)
    applied = await current_version(conn)
    for migration in MIGRATIONS:
        if migration.version <= applied:
            continue
        async with conn.transaction():
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                (migration.version, migration.description),
            )
    for name, kind in sql.PROFILE_COLUMNS.items():
        await conn.execute(f"ALTER TABLE user_profiles ADD COLUMN IF NOT EXISTS {name} {kind}")
    return await current_version(conn)

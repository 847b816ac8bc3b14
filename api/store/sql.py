"""The operational tables' SQL, written once for both databases.

Statements use `?` placeholders and standard SQL that SQLite (3.24+) and
PostgreSQL both run (`INSERT … ON CONFLICT … DO UPDATE`, `excluded.`); the
dialect supplies what differs: the placeholder style and the floating-point
column type.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.taxonomy import PROFILE, ProfileKind


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    placeholder: str
    real: str
    """The column type of a float (a Unix timestamp)."""

    def sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)


SQLITE = Dialect("sqlite", "?", "REAL")
POSTGRES = Dialect("postgresql", "%s", "DOUBLE PRECISION")

_SQL_TYPES: dict[ProfileKind, str] = {
    "text": "TEXT",
    "int": "INTEGER",
    "bool": "INTEGER",
    "list": "TEXT",
}
PROFILE_COLUMNS: dict[str, str] = {spec.name: _SQL_TYPES[spec.kind] for spec in PROFILE}


def schema(dialect: Dialect) -> list[str]:
    """The three tables and their indexes, each statement idempotent."""
    real = dialect.real
    return [
        f"""CREATE TABLE IF NOT EXISTS user_profiles (
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    {", ".join(f"{name} {kind}" for name, kind in PROFILE_COLUMNS.items())},
    extra TEXT NOT NULL DEFAULT '{{}}',
    phase TEXT,
    outcome TEXT,
    handoff INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (session_id, user_id)
)""",
        "CREATE INDEX IF NOT EXISTS user_profiles_user ON user_profiles (user_id)",
        f"""CREATE TABLE IF NOT EXISTS conversations (
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    turns INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_ts {real} NOT NULL,
    PRIMARY KEY (session_id, user_id)
)""",
        "CREATE INDEX IF NOT EXISTS conversations_updated ON conversations (updated_ts)",
        f"""CREATE TABLE IF NOT EXISTS processed_requests (
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    response TEXT NOT NULL,
    created_ts {real} NOT NULL,
    fingerprint TEXT,
    PRIMARY KEY (session_id, user_id, request_id)
)""",
        "CREATE INDEX IF NOT EXISTS processed_requests_created ON processed_requests (created_ts)",
    ]


UPSERT_COLUMNS = [*PROFILE_COLUMNS, "extra", "phase", "outcome", "handoff", "updated_at"]
UPSERT_PROFILE = (
    f"INSERT INTO user_profiles (session_id, user_id, {', '.join(UPSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(UPSERT_COLUMNS) + 2))}) "
    "ON CONFLICT (session_id, user_id) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in UPSERT_COLUMNS)
)
UPSERT_CONVERSATION = (
    "INSERT INTO conversations (session_id, user_id, thread_id, turns, created_at, updated_at, "
    "updated_ts) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, user_id) DO UPDATE SET "
    # thread_id too: a row written before thread keys encoded ':' names an old thread.
    "thread_id=excluded.thread_id, turns=excluded.turns, updated_at=excluded.updated_at, "
    "updated_ts=excluded.updated_ts"
)
UPSERT_RESPONSE = (
    "INSERT INTO processed_requests "
    "(session_id, user_id, request_id, response, created_ts, fingerprint) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, user_id, request_id) DO UPDATE SET "
    "response=excluded.response, created_ts=excluded.created_ts, "
    "fingerprint=excluded.fingerprint"
)
STORED_RESPONSE = (
    "SELECT response, fingerprint FROM processed_requests WHERE session_id=? "
    "AND user_id=? AND request_id=? AND created_ts>=?"
)
RECORDED_TURNS = "SELECT turns FROM conversations WHERE session_id=? AND user_id=?"
PURGE_EXPIRED = "DELETE FROM processed_requests WHERE created_ts<?"
PROFILES_OF = "SELECT * FROM user_profiles WHERE user_id=? ORDER BY updated_at DESC"
ACTIVE_CONVERSATIONS = "SELECT COUNT(*) FROM conversations WHERE updated_ts>=?"

CLAIMS_TABLE = """CREATE TABLE IF NOT EXISTS request_claims (
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_ts DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (session_id, user_id, request_id)
)"""
# A claim is taken when there is none or the one there has expired (its holder
# died or gave up): RETURNING gives a row only then.
CLAIM = (
    "INSERT INTO request_claims (session_id, user_id, request_id, owner, expires_ts) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, user_id, request_id) DO UPDATE SET "
    "owner=excluded.owner, expires_ts=excluded.expires_ts WHERE request_claims.expires_ts<? "
    "RETURNING owner"
)
RELEASE_CLAIM = (
    "DELETE FROM request_claims WHERE session_id=? AND user_id=? AND request_id=? AND owner=?"
)
PURGE_CLAIMS = "DELETE FROM request_claims WHERE expires_ts<?"

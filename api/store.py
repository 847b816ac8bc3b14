"""Operational tables beside the graph's checkpoints, in the same SQLite file:

- `user_profiles`: what the bot learned about each customer, one row per
  (session_id, user_id), upserted after every turn;
- `conversations`: one row per thread for operations (ids, turns, last activity);
- `processed_requests`: answers by request_id (with the fingerprint of the
  message), so n8n retries are idempotent.

All three are written in one transaction per turn, after the turn's checkpoint.
The checkpoint is the truth: when a crash falls between the two, the next
request of the customer finds the tables behind the thread and writes them from
it (api.delivery).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from core.db import DEFAULT_SQLITE, SQLiteOptions, open_sqlite
from core.taxonomy import PROFILE, ProfileKind
from graph.threads import thread_id_for
from graph.turn import TurnResult
from rules.profile import is_empty

# One column per profile field (core.taxonomy.PROFILE); anything else goes into
# `extra` as JSON. Lists are stored as JSON text, booleans as 0/1.
_SQL_TYPES: dict[ProfileKind, str] = {
    "text": "TEXT",
    "int": "INTEGER",
    "bool": "INTEGER",
    "list": "TEXT",
}
PROFILE_COLUMNS: dict[str, str] = {spec.name: _SQL_TYPES[spec.kind] for spec in PROFILE}

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS user_profiles (
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    {", ".join(f"{name} {kind}" for name, kind in PROFILE_COLUMNS.items())},
    extra TEXT NOT NULL DEFAULT '{{}}',
    phase TEXT,
    outcome TEXT,
    handoff INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (session_id, user_id)
);
CREATE INDEX IF NOT EXISTS user_profiles_user ON user_profiles (user_id);
CREATE TABLE IF NOT EXISTS conversations (
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    turns INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_ts REAL NOT NULL,
    PRIMARY KEY (session_id, user_id)
);
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations (updated_ts);
CREATE TABLE IF NOT EXISTS processed_requests (
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    response TEXT NOT NULL,
    created_ts REAL NOT NULL,
    fingerprint TEXT,
    PRIMARY KEY (session_id, user_id, request_id)
);
CREATE INDEX IF NOT EXISTS processed_requests_created ON processed_requests (created_ts);
"""

_UPSERT_COLUMNS = [*PROFILE_COLUMNS, "extra", "phase", "outcome", "handoff", "updated_at"]
UPSERT_PROFILE = (
    f"INSERT INTO user_profiles (session_id, user_id, {', '.join(_UPSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(_UPSERT_COLUMNS) + 2))}) "
    "ON CONFLICT (session_id, user_id) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in _UPSERT_COLUMNS)
)
UPSERT_CONVERSATION = (
    "INSERT INTO conversations (session_id, user_id, thread_id, turns, created_at, updated_at, "
    "updated_ts) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, user_id) DO UPDATE SET "
    # thread_id too: a row written before thread keys encoded ':' names an old thread.
    "thread_id=excluded.thread_id, turns=excluded.turns, updated_at=excluded.updated_at, "
    "updated_ts=excluded.updated_ts"
)


def _to_column(kind: ProfileKind, value: Any) -> Any:
    if value is None:
        return None
    if kind == "list":
        return json.dumps(value if isinstance(value, list) else [value], ensure_ascii=False)
    if kind == "bool":
        return int(bool(value))
    return value


def _from_column(kind: ProfileKind, stored: Any) -> Any:
    if is_empty(stored):
        return None
    if kind == "list":
        return _as_list(stored)
    if kind == "bool":
        return bool(stored)
    return stored


def _as_list(stored: str) -> list[Any]:
    """A list column as stored: JSON, or one plain value written before the
    field became a list (an `interest` of an earlier version)."""
    try:
        value = json.loads(stored)
    except ValueError:
        return [stored]
    return value if isinstance(value, list) else [stored]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class StoredResponse:
    response: dict[str, Any]
    fingerprint: str | None
    """What identifies the request's message (None in rows older than the column)."""


@dataclass
class Store:
    """The tables on one connection, shared by every request. A transaction must not
    interleave with another request's writes (a commit would take their half
    along), so every write holds the store's lock, and a failed one rolls back at
    once (an open transaction would hold SQLite's write lock)."""

    conn: aiosqlite.Connection
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            try:
                yield self.conn
                await self.conn.commit()
            except BaseException:
                # Shielded: a cancelled request must still release the write lock.
                await asyncio.shield(self.conn.rollback())
                raise

    async def setup(self) -> None:
        await self.conn.executescript(SCHEMA)
        async with self._transaction():
            # A column added since a table was created (a new profile field, the
            # request's fingerprint) is added to it.
            await self._add_missing("user_profiles", PROFILE_COLUMNS)
            await self._add_missing("processed_requests", {"fingerprint": "TEXT"})

    async def _add_missing(self, table: str, columns: dict[str, str]) -> None:
        async with self.conn.execute(f"PRAGMA table_info({table})") as cur:
            present = {row[1] for row in await cur.fetchall()}
        for name, kind in columns.items():
            if name not in present:
                await self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    async def _one(self, sql: str, parameters: tuple[Any, ...] = ()) -> Any:
        # A read needs no lock: between two statements of another request's
        # transaction it sees that request's customer only, never its own rows
        # half written.
        async with self.conn.execute(sql, parameters) as cur:
            return await cur.fetchone()

    async def ping(self) -> bool:
        try:
            return bool(await self._one("SELECT 1") == (1,))
        except Exception:
            return False

    # --- idempotency ---

    async def stored_response(
        self, session_id: str, user_id: str, request_id: str, ttl_s: float
    ) -> StoredResponse | None:
        """The answer given to `request_id` within the last `ttl_s` seconds."""
        row = await self._one(
            "SELECT response, fingerprint FROM processed_requests WHERE session_id=? "
            "AND user_id=? AND request_id=? AND created_ts>=?",
            (session_id, user_id, request_id, time.time() - ttl_s),
        )
        return StoredResponse(json.loads(row[0]), row[1]) if row else None

    async def recorded_turns(self, session_id: str, user_id: str) -> int:
        """How many of the customer's turns the operational tables know of."""
        row = await self._one(
            "SELECT turns FROM conversations WHERE session_id=? AND user_id=?",
            (session_id, user_id),
        )
        return int(row[0]) if row else 0

    async def purge_expired(self, ttl_s: float) -> int:
        async with self._transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM processed_requests WHERE created_ts<?", (time.time() - ttl_s,)
            )
        return cur.rowcount

    # --- the per-turn write ---

    async def record_turn(
        self,
        session_id: str,
        user_id: str,
        result: TurnResult,
        requests: Mapping[str, str],
        response: dict[str, Any],
    ) -> None:
        """One transaction: the profile, the conversation's row, and `response` as
        the answer of every request (request_id → fingerprint) the turn answered."""
        now, ts = _now_iso(), time.time()
        profile = dict(result.profile)
        columns = {
            spec.name: _to_column(spec.kind, profile.pop(spec.name, None)) for spec in PROFILE
        }
        values = [
            *columns.values(),
            json.dumps(profile, ensure_ascii=False),
            result.phase,
            result.outcome,
            int(result.handoff),
            now,
        ]
        async with self._transaction() as conn:
            await conn.execute(UPSERT_PROFILE, (session_id, user_id, *values))
            thread_id = thread_id_for(session_id, user_id)
            await conn.execute(
                UPSERT_CONVERSATION, (session_id, user_id, thread_id, result.turn, now, now, ts)
            )
            stored = json.dumps(response, ensure_ascii=False)
            await conn.executemany(
                "INSERT OR REPLACE INTO processed_requests "
                "(session_id, user_id, request_id, response, created_ts, fingerprint) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (session_id, user_id, key, stored, ts, fingerprint)
                    for key, fingerprint in requests.items()
                ],
            )

    # --- reads for operations ---

    async def profiles_of(self, user_id: str) -> list[dict[str, Any]]:
        async with (
            self._lock,
            self.conn.execute(
                "SELECT * FROM user_profiles WHERE user_id=? ORDER BY updated_at DESC", (user_id,)
            ) as cur,
        ):
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in await cur.fetchall()]
        entries = []
        for row in rows:
            row.pop("user_id")
            extra = json.loads(row.pop("extra") or "{}")
            for spec in PROFILE:
                row[spec.name] = _from_column(spec.kind, row.get(spec.name))
            row["handoff"] = bool(row["handoff"])
            entries.append({**{k: v for k, v in row.items() if v is not None}, **extra})
        return entries

    async def active_conversations(self, window_s: float = 86400) -> int:
        row = await self._one(
            "SELECT COUNT(*) FROM conversations WHERE updated_ts>=?", (time.time() - window_s,)
        )
        return int(row[0]) if row else 0


@asynccontextmanager
async def open_store(
    db_path: str | Path, options: SQLiteOptions = DEFAULT_SQLITE
) -> AsyncIterator[Store]:
    async with open_sqlite(db_path, options) as conn:
        store = Store(conn)
        await store.setup()
        yield store

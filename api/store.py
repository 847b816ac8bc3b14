"""Operational tables beside the graph's checkpoints, in the same SQLite file:

- `user_profiles`: what the bot learned about each customer, one row per
  (session_id, user_id), upserted after every turn;
- `conversations`: one row per thread for operations (ids, turns, last activity);
- `processed_requests`: answers by request_id, so n8n retries are idempotent.

All three are written in one transaction per turn.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
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


@dataclass
class Store:
    conn: aiosqlite.Connection

    async def setup(self) -> None:
        await self.conn.executescript(SCHEMA)
        # A profile field added since the table was created gets its column.
        async with self.conn.execute("PRAGMA table_info(user_profiles)") as cur:
            present = {row[1] for row in await cur.fetchall()}
        for name, kind in PROFILE_COLUMNS.items():
            if name not in present:
                await self.conn.execute(f"ALTER TABLE user_profiles ADD COLUMN {name} {kind}")
        await self.conn.commit()

    async def ping(self) -> bool:
        try:
            async with self.conn.execute("SELECT 1") as cur:
                return (await cur.fetchone()) == (1,)
        except Exception:
            return False

    # --- idempotency ---

    async def stored_response(
        self, session_id: str, user_id: str, request_id: str, ttl_s: float
    ) -> dict[str, Any] | None:
        async with self.conn.execute(
            "SELECT response FROM processed_requests WHERE session_id=? AND user_id=? "
            "AND request_id=? AND created_ts>=?",
            (session_id, user_id, request_id, time.time() - ttl_s),
        ) as cur:
            row = await cur.fetchone()
        return json.loads(row[0]) if row else None

    async def purge_expired(self, ttl_s: float) -> int:
        cur = await self.conn.execute(
            "DELETE FROM processed_requests WHERE created_ts<?", (time.time() - ttl_s,)
        )
        await self.conn.commit()
        return cur.rowcount

    # --- the per-turn write ---

    async def record_turn(
        self,
        session_id: str,
        user_id: str,
        result: TurnResult,
        request_id: str | None,
        response: dict[str, Any],
    ) -> None:
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
        await self.conn.execute(UPSERT_PROFILE, (session_id, user_id, *values))
        thread_id = thread_id_for(session_id, user_id)
        await self.conn.execute(
            UPSERT_CONVERSATION, (session_id, user_id, thread_id, result.turn, now, now, ts)
        )
        if request_id:
            await self.conn.execute(
                "INSERT OR REPLACE INTO processed_requests VALUES (?, ?, ?, ?, ?)",
                (session_id, user_id, request_id, json.dumps(response, ensure_ascii=False), ts),
            )
        await self.conn.commit()

    # --- reads for operations ---

    async def profiles_of(self, user_id: str) -> list[dict[str, Any]]:
        async with self.conn.execute(
            "SELECT * FROM user_profiles WHERE user_id=? ORDER BY updated_at DESC", (user_id,)
        ) as cur:
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
        async with self.conn.execute(
            "SELECT COUNT(*) FROM conversations WHERE updated_ts>=?", (time.time() - window_s,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0


@asynccontextmanager
async def open_store(
    db_path: str | Path, options: SQLiteOptions = DEFAULT_SQLITE
) -> AsyncIterator[Store]:
    async with open_sqlite(db_path, options) as conn:
        store = Store(conn)
        await store.setup()
        yield store

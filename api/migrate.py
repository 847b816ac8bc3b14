"""`salesbot db migrate --from sqlite:///… --to postgresql://…`: a SQLite
installation's state moved to PostgreSQL before the bot runs on several instances.

What moves: every thread's checkpoints with their pending writes (through the two
LangGraph savers, so each backend keeps its own format), and the rows of
`user_profiles`, `conversations` and `processed_requests`.

Resumable: every step is idempotent. A checkpoint already in the target is not
written again (its pending writes are, which the saver upserts), and rows go in
with ON CONFLICT DO NOTHING; a run cut short is simply run again.

Verified: the rows and checkpoints of each kind are counted on both sides, and
for a random sample of threads the latest checkpoint read back from PostgreSQL
must equal the one in SQLite. Run it with the service stopped (or its SQLite
file copied): a turn written during the copy may be missed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from api.database import MIGRATIONS_LOCK
from api.store import sql
from core.db import open_sqlite
from core.postgres import PoolSize, is_postgres_url, open_pool
from core.settings import load_settings

TABLES = {
    "user_profiles": ("session_id", "user_id"),
    "conversations": ("session_id", "user_id"),
    "processed_requests": ("session_id", "user_id", "request_id"),
}


@dataclass
class Report:
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    """What → (in SQLite, in PostgreSQL)."""
    sampled: int = 0
    mismatched: list[str] = field(default_factory=list)
    """Sampled threads whose latest checkpoint differs."""

    @property
    def ok(self) -> bool:
        return not self.mismatched and all(dst >= src for src, dst in self.counts.values())


def sqlite_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or not parts.path:
        raise ValueError(f"--from must be sqlite:///path/to/file.db, got {url!r}")
    return Path(parts.path)


def _config(thread: str, ns: str, checkpoint_id: str | None = None) -> Any:
    configurable = {"thread_id": thread, "checkpoint_ns": ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


async def copy_thread(
    source: BaseCheckpointSaver[Any], target: BaseCheckpointSaver[Any], thread: str
) -> int:
    """Copy the thread's checkpoints the target lacks, oldest first; how many."""
    everywhere: RunnableConfig = {"configurable": {"thread_id": thread}}  # every namespace
    tuples: list[CheckpointTuple] = [t async for t in source.alist(everywhere)]
    present = {t.checkpoint["id"] async for t in target.alist(everywhere)}
    copied = 0
    for item in reversed(tuples):
        ns = item.config["configurable"].get("checkpoint_ns", "")
        parent = (item.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        stored = _config(thread, ns, item.checkpoint["id"])
        if item.checkpoint["id"] not in present:
            stored = await target.aput(
                _config(thread, ns, parent),
                item.checkpoint,
                item.metadata,
                dict(item.checkpoint["channel_versions"]),
            )
            copied += 1
        by_task: defaultdict[str, list[tuple[str, Any]]] = defaultdict(list)
        for task_id, channel, value in item.pending_writes or []:
            by_task[task_id].append((channel, value))
        for task_id, writes in by_task.items():
            await target.aput_writes(stored, writes, task_id)
    return copied


async def _threads(conn: Any) -> list[str]:
    async with conn.execute("SELECT DISTINCT thread_id FROM checkpoints ORDER BY thread_id") as cur:
        return [row[0] for row in await cur.fetchall()]


async def _copy_table(conn: Any, pool: Any, table: str) -> None:
    async with conn.execute(f"SELECT * FROM {table}") as cur:
        names = [d[0] for d in cur.description]
        rows = await cur.fetchall()
    if not rows:
        return
    keys = ", ".join(TABLES[table])
    statement = sql.POSTGRES.sql(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT ({keys}) DO NOTHING"
    )
    async with pool.connection() as target, target.transaction(), target.cursor() as tcur:
        await tcur.executemany(statement, [tuple(r) for r in rows])


COUNTED = {
    **{table: (table, table) for table in TABLES},
    "checkpoints": ("checkpoints", "checkpoints"),
    "pending writes": ("writes", "checkpoint_writes"),
}
"""What is counted → its table in SQLite, in PostgreSQL (the savers name them)."""


async def _count(conn: Any, pool: Any, what: str) -> tuple[int, int]:
    mine, theirs = COUNTED[what]
    async with conn.execute(f"SELECT COUNT(*) FROM {mine}") as cur:
        row = await cur.fetchone()
    async with pool.connection() as target:
        result = await target.execute(f"SELECT COUNT(*) AS n FROM {theirs}")
        counted = await result.fetchone()
    return int(row[0]), int(counted["n"])


async def migrate(
    source: Path, target_url: str, sample: int = 20, say: Callable[[str], None] = print
) -> Report:
    from api.store.postgres import PostgresStore
    from core.advisory import exclusive
    from graph.memory import postgres_checkpointer

    if not source.is_file():
        raise FileNotFoundError(source)
    report = Report()
    async with (
        open_sqlite(source) as conn,
        open_pool(target_url, PoolSize(1, 4, 30.0), "salesbot-migrate") as pool,
    ):
        src = AsyncSqliteSaver(conn)
        await src.setup()
        async with exclusive(pool, MIGRATIONS_LOCK):
            dst = await postgres_checkpointer(pool)
            await PostgresStore(pool).setup()
        threads = await _threads(conn)
        for n, thread in enumerate(threads, 1):
            await copy_thread(src, dst, thread)
            if n % 100 == 0 or n == len(threads):
                say(f"threads: {n}/{len(threads)}")
        for table in TABLES:
            await _copy_table(conn, pool, table)
        for what in COUNTED:
            report.counts[what] = await _count(conn, pool, what)
        for thread in random.sample(threads, min(sample, len(threads))):
            config: RunnableConfig = {"configurable": {"thread_id": thread}}
            mine, theirs = await src.aget_tuple(config), await dst.aget_tuple(config)
            same = (
                mine is not None
                and theirs is not None
                and mine.checkpoint["id"] == theirs.checkpoint["id"]
                and mine.checkpoint["channel_values"] == theirs.checkpoint["channel_values"]
            )
            if not same:
                report.mismatched.append(thread)
        report.sampled = min(sample, len(threads))
    return report


def migrate_main(args: argparse.Namespace) -> int:
    load_settings()  # a broken configuration is reported before anything moves
    if not is_postgres_url(args.target):
        sys.stderr.write("salesbot db migrate: --to must be postgresql://…\n")
        return 2
    try:
        source = sqlite_path(args.source)
    except ValueError as exc:
        sys.stderr.write(f"salesbot db migrate: {exc}\n")
        return 2
    report = asyncio.run(migrate(source, args.target, args.sample))
    for what, (src, dst) in report.counts.items():
        sys.stdout.write(f"{what}: sqlite {src}, postgresql {dst}\n")
    sys.stdout.write(f"sampled threads: {report.sampled}, differing: {len(report.mismatched)}\n")
    if not report.ok:
        sys.stderr.write("salesbot db migrate: verification FAILED; run it again\n")
        return 1
    sys.stdout.write("verified\n")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="the bot's database")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    p = db_sub.add_parser(
        "migrate", help="copy a SQLite installation's state to PostgreSQL (resumable, verified)"
    )
    p.add_argument(
        "--from", dest="source", required=True, help="sqlite:///path/to/conversations.db"
    )
    p.add_argument("--to", dest="target", required=True, help="postgresql://user:pass@host/db")
    p.add_argument("--sample", type=int, default=20, help="threads compared after the copy")
    p.set_defaults(func=migrate_main)

"""SalesControl's dashboard with 100,000 dialogues in the database: how fast each
page answers.

    .venv/bin/python -m bench.dashboard [--dialogues 100000] [--days 90]
                                        [--requests 60] [--warmup 5] [--reuse DIR]

An embedded PostgreSQL is migrated and filled by bench.dashboard_fill (a chain of
ten coffee shops in three time zones, thirty registers, `--dialogues` dialogues over
`--days` local days with transcripts, analyses, re-runs and reviews, and every
minute's audio chunk row of every recorder over the same days, as the retention
of 90 days keeps them). Then a real `salescontrol serve` process (one uvicorn
worker) answers a logged-in admin's requests, one at a time from this process on
loopback: after `--warmup` unmeasured requests, `--requests` requests per case with
varied parameters (periods shifted day by day, each point, register or filter
value in turn, random dialogues). A dialogue's audio is cut once cold from a real
opus chunk (synthesized by ffmpeg), then served from the cut.

A case whose route does not exist (404 on its first request) is reported as
missing. `--reuse DIR` keeps the filled database in DIR for the next run (a
filled database of the same size is not filled again). Target: p95 ≤ 150 ms for
every page.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from bench.dashboard_fill import CATEGORIES, Fill, fill
from bench.harness import cleanup, print_result, summary, tmpdir
from salescontrol.accounts import add_user
from salescontrol.db.embedded import create_database
from salescontrol.db.migrate import upgrade
from tests.salescontrol.pg import TEMPLATE, Cluster
from tests.salescontrol.server import IngestProcess

DATABASE = "dashboard"
ADMIN = ("bench-admin", "bench-admin-password")
VIEWERS = ("manager-almaty", "manager-aqtobe", "manager-oral", "owner")
ZONE = "Asia/Almaty"
"""The dashboard's own zone (settings.yaml): its "today" ends the data."""
TARGET_MS = 150.0
COMMON_WORD, RARE_WORD = "спасибо", "лавандовый"


@dataclass(frozen=True)
class Data:
    """What the cases need to know of the filled database."""

    points: list[uuid.UUID]
    registers: list[uuid.UUID]
    sample: list[uuid.UUID]
    """Random dialogues, for the dialogue page."""
    first_day: date
    last_day: date
    counts: dict[str, int]
    word_matches: dict[str, int]
    """Transcripts holding each searched word."""
    size: str


@dataclass(frozen=True)
class Case:
    name: str
    url: Callable[[int], str]
    """The URL of the i-th request."""


def _period(last: date, days: int) -> str:
    return f"from={last - timedelta(days=days - 1)}&to={last}"


def cases(data: Data, rng: random.Random) -> list[Case]:
    today = data.last_day
    week = _period(today, 7)
    quarter = f"from={data.first_day}&to={today}"

    def shifted(days: int) -> Callable[[int], str]:
        return lambda i: _period(today - timedelta(days=i % 7), days)

    def each(param: str, values: list[str], period: str = week) -> Callable[[int], str]:
        return lambda i: f"/dialogues?{period}&{param}={values[i % len(values)]}"

    points = [str(p) for p in data.points]
    registers = [str(r) for r in data.registers]
    ids = [str(d) for d in data.sample]
    rng.shuffle(ids)
    return [
        Case("overview, default (7 days)", lambda i: "/overview"),
        Case("overview, 30 days", lambda i: f"/overview?{shifted(30)(i)}"),
        Case("overview, 90 days", lambda i: f"/overview?{quarter}"),
        Case("overview, one point, 7 days", lambda i: f"/overview?{week}&point={points[i % 10]}"),
        Case(
            "overview, one point, 90 days", lambda i: f"/overview?{quarter}&point={points[i % 10]}"
        ),
        Case("dialogues, default (7 days)", lambda i: "/dialogues"),
        Case("dialogues, 90 days", lambda i: f"/dialogues?{quarter}"),
        Case("dialogues, point", each("point", points)),
        Case("dialogues, register", each("register", registers)),
        Case("dialogues, attempted", each("attempted", ["yes", "no", "uncertain"])),
        Case("dialogues, category", each("category", list(CATEGORIES))),
        Case("dialogues, reaction", each("reaction", ["accepted", "rejected", "unclear", "none"])),
        Case("dialogues, quality", each("quality", ["0", "1", "2", "3"])),
        Case("dialogues, review", each("review", ["open", "resolved", "none"])),
        Case("dialogues, review, 90 days", each("review", ["open", "resolved"], quarter)),
        Case(f"dialogues, text «{COMMON_WORD}»", each("q", [COMMON_WORD])),
        Case(f"dialogues, text «{RARE_WORD}»", each("q", [RARE_WORD])),
        Case(f"dialogues, text «{RARE_WORD}», 90 days", each("q", [RARE_WORD], quarter)),
        Case("dialogues, page 2", lambda i: "/dialogues?page=2"),
        Case("dialogues, page 100 of 90 days", lambda i: f"/dialogues?{quarter}&page=100"),
        Case("dialogue page", lambda i: f"/dialogues/{ids[i % len(ids)]}"),
        Case("reviews", lambda i: "/reviews"),
        Case("reviews, 90 days", lambda i: f"/reviews?{quarter}"),
        Case("reviews export CSV, 7 days", lambda i: f"/reviews/export.csv?{shifted(7)(i)}"),
        Case("reviews export JSON, 90 days", lambda i: f"/reviews/export.json?{quarter}"),
        Case("devices", lambda i: "/devices"),
        Case("users", lambda i: "/users"),
    ]


def measure(http: httpx.Client, case: Case, requests: int, warmup: int) -> dict[str, object]:
    first = http.get(case.url(0))
    if first.status_code == 404:
        return {"missing": "404: the route does not exist yet"}
    statuses: dict[int, int] = {}
    for i in range(warmup):
        http.get(case.url(i))
    times = []
    for i in range(requests):
        began = time.perf_counter()
        response = http.get(case.url(i))
        times.append((time.perf_counter() - began) * 1000)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    return {**summary(times), "status": statuses, "bytes": len(first.content)}


def audio(http: httpx.Client, dialogue_id: uuid.UUID, repeats: int) -> dict[str, object]:
    url = f"/dialogues/{dialogue_id}/audio"
    began = time.perf_counter()
    cold = http.get(url)
    cold_ms = (time.perf_counter() - began) * 1000
    if cold.status_code == 404 and not cold.headers.get("content-type", "").startswith("audio"):
        return {"missing": f"{cold.status_code}: no audio route or no cut"}
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        http.get(url).raise_for_status()
        times.append((time.perf_counter() - began) * 1000)
    return {
        "cold_ms": round(cold_ms, 1),
        "cold_status": cold.status_code,
        "bytes": len(cold.content),
        "cached": summary(times),
    }


def synthesize_chunk(path: Path) -> None:
    """60 s of a tone as a recorder's chunk (mono 16 kHz opus)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "sine=frequency=330:duration=60:sample_rate=16000",
         "-ac", "1", "-c:a", "libopus", "-b:a", "24k", str(path)],
        check=True,
    )  # fmt: skip


async def place_audio(url: str, audio_dir: Path, tone: Path) -> uuid.UUID:
    """The latest dialogue that fits in two chunks, its chunks' files written; its id."""
    conn = await asyncpg.connect(url)
    try:
        dialogue = await conn.fetchrow(
            "SELECT id, device_id, started_at, ended_at FROM dialogues"
            " WHERE ended_at - started_at < interval '50 s' ORDER BY started_at DESC LIMIT 1"
        )
        paths = await conn.fetch(
            "SELECT path FROM audio_chunks WHERE device_id = $1"
            " AND started_at > $2::timestamptz - interval '1 hour'"
            " AND started_at < $3::timestamptz + interval '60 s'"
            " AND ended_at > $2::timestamptz - interval '60 s'",
            dialogue["device_id"], dialogue["started_at"], dialogue["ended_at"],
        )  # fmt: skip
    finally:
        await conn.close()
    for row in paths:
        target = audio_dir / row["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tone, target)
    return uuid.UUID(str(dialogue["id"]))


async def prepare(cluster: Cluster, args: argparse.Namespace) -> tuple[str, Fill | None]:
    """The filled database's URL; the fill's report unless an earlier run's was reused."""
    admin = await asyncpg.connect(cluster.url("postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
    finally:
        await admin.close()
    if exists:
        url = cluster.url(DATABASE)
        conn = await asyncpg.connect(url)
        try:
            count = await conn.fetchval("SELECT count(*) FROM dialogues")
        finally:
            await conn.close()
        if count == args.dialogues:
            # An earlier run's database: brought to the current schema, as a
            # production database would be.
            await asyncio.to_thread(upgrade, url)
            return url, None
        await cluster.drop(url)
    url = await create_database(cluster.server, DATABASE, template=TEMPLATE)
    await add_user(url, *ADMIN, "admin")
    for login in VIEWERS:
        await add_user(url, login, ADMIN[1], "viewer")
    conn = await asyncpg.connect(url)
    try:
        admin_id = await conn.fetchval("SELECT id FROM users WHERE login = $1", ADMIN[0])
        users = [
            admin_id,
            *(r[0] for r in await conn.fetch("SELECT id FROM users WHERE role = 'viewer'")),
        ]
    finally:
        await conn.close()
    today = datetime.now(ZoneInfo(ZONE)).date()
    began = time.perf_counter()
    report = await fill(
        url, dialogues=args.dialogues, days=args.days, chunk_days=args.days, users=users,
        today=today, seed=args.seed,
    )  # fmt: skip
    report.seconds["total"] = round(time.perf_counter() - began, 1)
    return url, report


async def describe(url: str, days: int) -> Data:
    """What bench.dashboard needs to know of a filled database."""
    conn = await asyncpg.connect(url)
    try:
        points = [r[0] for r in await conn.fetch("SELECT id FROM points ORDER BY name")]
        registers = [r[0] for r in await conn.fetch("SELECT id FROM registers ORDER BY name, id")]
        sample = [r[0] for r in await conn.fetch(
            "SELECT id FROM dialogues TABLESAMPLE BERNOULLI (1) REPEATABLE (19) LIMIT 200"
        )]  # fmt: skip
        counts = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("dialogues", "transcripts", "analyses", "reviews", "audio_chunks")
        }
        words = {
            word: await conn.fetchval(
                "SELECT count(*) FROM transcripts WHERE to_tsvector('russian', text)"
                " @@ websearch_to_tsquery('russian', $1)",
                word,
            )
            for word in (COMMON_WORD, RARE_WORD)
        }
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await conn.close()
    today = datetime.now(ZoneInfo(ZONE)).date()
    return Data(
        points, registers, sample, today - timedelta(days=days - 1), today, counts, words, size
    )


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    root = Path(args.reuse) if args.reuse else tmpdir("bench-dashboard-")
    cluster = await asyncio.to_thread(Cluster, root / "pg")
    server = None
    try:
        url, report = await prepare(cluster, args)
        data = await describe(url, args.days)
        tone = root / "tone.opus"
        await asyncio.to_thread(synthesize_chunk, tone)
        shutil.rmtree(root / "audio", ignore_errors=True)
        played = await place_audio(url, root / "audio", tone)
        server = IngestProcess(url, root / "audio", root / "serve.log", LOG_LEVEL="WARNING")
        await asyncio.to_thread(server.start)
        results: dict[str, object] = {}
        with httpx.Client(base_url=server.url, timeout=60) as http:
            login = http.post("/api/v1/auth/login", json={"login": ADMIN[0], "password": ADMIN[1]})
            login.raise_for_status()
            for case in cases(data, random.Random(args.seed)):
                if args.only and args.only not in case.name:
                    continue
                result = await asyncio.to_thread(measure, http, case, args.requests, args.warmup)
                results[case.name] = result
                print(_line(case.name, result), flush=True)
            results["dialogue audio"] = await asyncio.to_thread(audio, http, played, 20)
            print(f"{'dialogue audio':<44} {results['dialogue audio']}", flush=True)
        slow = [
            name for name, r in results.items()
            if isinstance(r, dict) and float(r.get("p95", 0)) > TARGET_MS
        ]  # fmt: skip
        return {
            "data": {
                "counts": data.counts,
                "days": args.days,
                "points": len(data.points),
                "registers": len(data.registers),
                "word_matches": data.word_matches,
                "database_size": data.size,
                "fill_s": report.seconds if report else "reused",
            },
            "requests_per_case": args.requests,
            "latency_ms": results,
            "target_p95_ms": TARGET_MS,
            "over_target": slow,
            "missing": [n for n, r in results.items() if isinstance(r, dict) and "missing" in r],
        }
    finally:
        if server is not None:
            server.stop()
        cluster.stop()
        if not args.reuse:
            with contextlib.suppress(OSError):
                cleanup(root)


def _line(name: str, result: dict[str, object]) -> str:
    if "missing" in result:
        return f"{name:<44} missing ({result['missing']})"
    return (
        f"{name:<44} p50 {result['p50']:>7} p95 {result['p95']:>7} p99 {result['p99']:>7}"
        f" ms  {result['status']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dialogues", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90, help="local days the dialogues span")
    parser.add_argument("--requests", type=int, default=60, help="measured requests per case")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured requests per case")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--reuse", help="keep the filled database in this directory")
    parser.add_argument("--only", help="only the cases whose name contains this")
    args = parser.parse_args()
    print_result("SalesControl dashboard", asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()

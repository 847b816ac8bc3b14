"""Concurrency: many customers at once with a slow model.

    .venv/bin/python -m bench.concurrency [--customers 200] [--turns 5] [--delay 2.0]

Every customer sends its turns one after another (as n8n does per chat); the
customers start evenly within `--spread` seconds (real customers do not write
in the same millisecond) and then all run at once. The Ollama stub answers each
call after `--delay` seconds, so a turn (two calls) takes at least 2 × delay;
the ideal throughput is that of a service with no overhead on the same
schedule. Meanwhile `/health` is probed every 50 ms: its latency shows whether
the event loop ever stalls.

Target: ≥ 80 % of the ideal throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

import httpx

from bench.harness import (
    HEADERS,
    REAL_KB,
    cleanup,
    histogram_means,
    ollama_stub,
    print_result,
    process_body,
    service,
    settings_file,
    summary,
    tmpdir,
)

CUSTOMERS_PER_CLIENT = 10


async def customer(
    http: httpx.AsyncClient, user: str, turns: int, start_at: float, latencies: list[float]
) -> int:
    await asyncio.sleep(start_at)
    failures = 0
    for i in range(turns):
        started = time.perf_counter()
        response = await http.post(
            "/api/v1/process", json=process_body("BOT", user, f"Вопрос {i}: сколько стоит?")
        )
        latencies.append((time.perf_counter() - started) * 1000)
        failures += response.status_code != 200
    return failures


async def probe_health(
    http: httpx.AsyncClient, stop: asyncio.Event, latencies: list[float]
) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await http.get("/health")
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)


async def run(url: str, customers: int, turns: int, spread_s: float) -> dict[str, object]:
    turn_ms: list[float] = []
    health_ms: list[float] = []
    # One client per 10 customers: a single httpx pool with hundreds of open
    # connections costs the load generator more CPU than the service under test.
    clients = [
        httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=300)
        for _ in range(max(1, customers // CUSTOMERS_PER_CLIENT))
    ]
    async with contextlib.AsyncExitStack() as stack:
        for client in clients:
            await stack.enter_async_context(client)
        health_client = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30))
        stop = asyncio.Event()
        prober = asyncio.create_task(probe_health(health_client, stop, health_ms))
        started = time.perf_counter()
        failures = await asyncio.gather(
            *(
                customer(
                    clients[n % len(clients)],
                    f"7701{n:07d}",
                    turns,
                    spread_s * n / customers,
                    turn_ms,
                )
                for n in range(customers)
            )
        )
        elapsed = time.perf_counter() - started
        stop.set()
        await prober
        metrics_text = (await health_client.get("/metrics")).text
    return {
        "elapsed_s": round(elapsed, 2),
        "failures": sum(failures),
        "turn_ms": summary(turn_ms),
        "health_ms_during_load": summary(health_ms),
        "throughput_turns_per_s": round(customers * turns / elapsed, 2),
        "mean_s_per_node": histogram_means(metrics_text, "salesbot_node_seconds", "node"),
        "mean_s_per_llm_call": histogram_means(metrics_text, "salesbot_llm_seconds", "kind"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument(
        "--spread", type=float, default=1.0, help="customers start evenly over this many seconds"
    )
    args = parser.parse_args()

    tmp = tmpdir("bench-concurrency-")
    kb = REAL_KB if REAL_KB.is_dir() else None
    settings = settings_file(tmp, per_key_per_minute=1_000_000, per_customer_per_minute=10_000)
    try:
        with (
            ollama_stub(args.delay) as ollama_url,
            service(ollama_url, kb=kb, db=tmp / "bench.db", settings=settings) as svc,
        ):
            result = asyncio.run(run(svc.url, args.customers, args.turns, args.spread))
    finally:
        cleanup(tmp)
    # A service with no overhead finishes when the last customer, starting at
    # `spread`, has had its turns of two model calls each.
    ideal = args.customers * args.turns / (args.spread + args.turns * 2 * args.delay)
    result.update(
        customers=args.customers,
        turns_per_customer=args.turns,
        llm_delay_s=args.delay,
        start_spread_s=args.spread,
        ideal_turns_per_s=round(ideal, 2),
        share_of_ideal=round(float(result["throughput_turns_per_s"]) / ideal, 3),  # type: ignore[arg-type]
    )
    print_result("concurrency (slow LLM stub)", result)


if __name__ == "__main__":
    main()

"""Turn overhead: p50/p95 of `POST /api/v1/process` with an instant Ollama stub,
so what is measured is everything but the model — HTTP, auth, the per-customer
lock, the graph, KB search over the full company KB (the stub's analysis asks it
about the customer's message), guards, the SQLite checkpoint (one per turn,
durability="exit") and the profile upsert.

    .venv/bin/python -m bench.turn_overhead [--turns 300] [--customers 30]

Target: p50 ≤ 15 ms, p95 ≤ 40 ms with ../shared/wipon_kb loaded.
"""

from __future__ import annotations

import argparse
import time

import httpx

from bench.harness import (
    HEADERS,
    REAL_KB,
    cleanup,
    counter_total,
    ollama_stub,
    print_result,
    process_body,
    service,
    settings_file,
    summary,
    tmpdir,
)

MESSAGES = [
    "Здравствуйте, у меня продуктовый магазин в Алматы",
    "Сколько стоит программа для одного магазина?",
    "А оборудование у вас есть? Нужен моноблок и сканер",
    "Можно в рассрочку?",
    "Работает без интернета?",
    "Как подключить Kaspi?",
    "Дорого, подумаю",
    "Есть пробный период?",
    "Как с вами связаться, мой номер 8 701 234 56 78",
    "Спасибо, до свидания",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--customers", type=int, default=30)
    args = parser.parse_args()

    tmp = tmpdir("bench-overhead-")
    kb = REAL_KB if REAL_KB.is_dir() else None
    settings = settings_file(tmp, per_key_per_minute=100_000, per_customer_per_minute=10_000)
    client_ms: list[float] = []
    server_ms: list[float] = []
    try:
        with (
            ollama_stub() as ollama_url,
            service(ollama_url, kb=kb, db=tmp / "bench.db", settings=settings) as svc,
            httpx.Client(base_url=svc.url, headers=HEADERS, timeout=30) as http,
        ):
            # Warm-up: first requests pay imports and SQLite page cache.
            for i in range(5):
                http.post("/api/v1/process", json=process_body("BOT", f"warm{i}", MESSAGES[i]))
            before = http.get("/metrics").text
            kb_used = 0
            for i in range(args.turns):
                customer = f"7700000{i % args.customers:04d}"
                text = MESSAGES[(i // args.customers) % len(MESSAGES)]
                started = time.perf_counter()
                response = http.post("/api/v1/process", json=process_body("BOT", customer, text))
                client_ms.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                meta = response.json()["meta"]
                server_ms.append(meta["processing_ms"])
                kb_used += bool(meta["kb_used"])
            after = http.get("/metrics").text
    finally:
        cleanup(tmp)
    print_result(
        "turn overhead (instant LLM stub)",
        {
            "kb": "wipon_kb (1818 sections)" if kb else "bundled",
            "turns": args.turns,
            "customers": args.customers,
            # The workload: how many model calls a turn made and how many turns
            # answered from KB facts (the stub's analyses search for the message).
            "llm_calls_per_turn": round(
                (
                    counter_total(after, "salesbot_llm_calls_total")
                    - counter_total(before, "salesbot_llm_calls_total")
                )
                / args.turns,
                2,
            ),
            "turns_with_kb_facts": kb_used,
            "client_ms": summary(client_ms),
            "server_processing_ms": summary(server_ms),
        },
    )


if __name__ == "__main__":
    main()

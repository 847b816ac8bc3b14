"""Resilience scenarios against the real service process, on loopback.

    .venv/bin/python -m bench.resilience [crash] [slow] [burst]

- crash: a load of 20 customers; the service is killed with SIGKILL in the
  middle and restarted. Every turn that got a 2xx must be in the conversation
  memory, the next turn must continue it, and `PRAGMA integrity_check` must say ok.
- slow: the model answers after the turn budget, then disappears, then comes
  back. Requests must fail with clean 503s within the budget, nothing may pile
  up (no turn left in flight), and the service must recover by itself.
- burst: one customer sends five messages at once. They must be processed one
  after another, in arrival order, and none may be lost.

Each scenario prints one JSON line with its findings and `"ok": true|false`;
the exit code is non-zero if any scenario failed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import AIMessage

from bench.harness import (
    HEADERS,
    StubProcess,
    cleanup,
    free_port,
    ollama_stub,
    process_body,
    service,
    settings_file,
    summary,
    tmpdir,
)
from graph.builder import compile_graph
from graph.memory import open_checkpointer
from graph.threads import thread_config


async def _load(url: str, customers: int, stop_at: float, answered: dict[str, list[str]]) -> None:
    async def one(user: str) -> None:
        async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=30) as http:
            i = 0
            while time.monotonic() < stop_at:
                try:
                    response = await http.post(
                        "/api/v1/process", json=process_body("BOT", user, f"сообщение {i}")
                    )
                except httpx.HTTPError:
                    return  # the service is gone
                if response.status_code == 200:
                    answered[user].append(response.json()["answer"])
                i += 1

    await asyncio.gather(*(one(u) for u in answered))


async def _thread_answers(db: Path, users: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    async with open_checkpointer(db) as saver:
        graph = compile_graph(saver)
        for user in users:
            state = await graph.aget_state(thread_config("BOT", user))
            messages = state.values.get("messages", [])
            found[user] = [str(m.content) for m in messages if isinstance(m, AIMessage)]
    return found


def crash() -> dict[str, Any]:
    tmp = tmpdir("bench-crash-")
    db = tmp / "crash.db"
    settings = settings_file(tmp, per_key_per_minute=1_000_000, per_customer_per_minute=100_000)
    users = [f"7702{n:07d}" for n in range(20)]
    answered: dict[str, list[str]] = {u: [] for u in users}
    try:
        with ollama_stub(0.05) as ollama_url:
            with service(ollama_url, kb=None, db=db, settings=settings) as svc:
                killer_at = time.monotonic() + 3.0

                async def run_and_kill() -> None:
                    load = asyncio.create_task(_load(svc.url, 20, killer_at + 5, answered))
                    await asyncio.sleep(max(0.0, killer_at - time.monotonic()))
                    os.kill(svc.proc.pid, signal.SIGKILL)
                    await load

                asyncio.run(run_and_kill())
                svc.proc.wait(timeout=10)
            stored = asyncio.run(_thread_answers(db, users))
            lost = {u: [a for a in answered[u] if a not in stored[u]] for u in users if answered[u]}
            lost = {u: a for u, a in lost.items() if a}
            integrity = sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0]
            with (
                service(ollama_url, kb=None, db=db, settings=settings) as svc,
                httpx.Client(base_url=svc.url, headers=HEADERS, timeout=30) as http,
            ):
                continued = 0
                for user in users:
                    reply = http.post(
                        "/api/v1/process", json=process_body("BOT", user, "я вернулся")
                    )
                    turn = reply.json()["meta"]["turn"] if reply.status_code == 200 else -1
                    continued += turn >= len(answered[user]) + 1
    finally:
        cleanup(tmp)
    total = sum(len(a) for a in answered.values())
    return {
        "scenario": "kill -9 under load",
        "answered_before_kill": total,
        "answered_turns_lost": sum(len(a) for a in lost.values()),
        "customers_continuing_after_restart": f"{continued}/{len(users)}",
        "integrity_check": integrity,
        "ok": total > 0 and not lost and continued == len(users) and integrity == "ok",
    }


def slow() -> dict[str, Any]:
    tmp = tmpdir("bench-slow-")
    budget = 3.0
    settings = settings_file(
        tmp, turn_budget_s=budget, per_key_per_minute=1_000_000, per_customer_per_minute=100_000
    )
    result: dict[str, Any] = {"scenario": "slow, then gone, then back", "budget_s": budget}
    port = free_port()

    def burst(http: httpx.Client, n: int, prefix: str) -> tuple[list[int], list[float]]:
        async def go() -> list[tuple[int, float]]:
            async with httpx.AsyncClient(
                base_url=str(http.base_url), headers=HEADERS, timeout=60
            ) as h:

                async def one(i: int) -> tuple[int, float]:
                    started = time.perf_counter()
                    r = await h.post(
                        "/api/v1/process", json=process_body("BOT", f"{prefix}{i}", "цена?")
                    )
                    return r.status_code, time.perf_counter() - started

                return await asyncio.gather(*(one(i) for i in range(n)))

        pairs = asyncio.run(go())
        return [s for s, _ in pairs], [t for _, t in pairs]

    def in_flight(http: httpx.Client) -> float:
        for line in http.get("/metrics").text.splitlines():
            if line.startswith("salesbot_turns_in_flight "):
                return float(line.split()[1])
        return float("nan")

    try:
        # The stub sits on a fixed port so that it can go away and come back.
        stub = StubProcess(budget + 5.0, port=port, search=False)
        with (
            stub,
            service(stub.url, kb=None, db=tmp / "s.db", settings=settings) as svc,
            httpx.Client(base_url=svc.url, headers=HEADERS, timeout=60) as http,
        ):
            statuses, times = burst(http, 20, "slow")
            result["slow_statuses"] = sorted(set(statuses))
            result["slow_seconds"] = summary(times)
            result["in_flight_after_slow"] = in_flight(http)
            svc_url = svc.url
            stub.stop()  # Ollama is gone
            statuses, times = burst(http, 20, "gone")
            result["gone_statuses"] = sorted(set(statuses))
            result["gone_seconds"] = summary(times)
            with StubProcess(0.0, port=port, search=False):
                recovered = http.post(
                    "/api/v1/process", json=process_body("BOT", "back", "сколько стоит?")
                )
                result["after_return_status"] = recovered.status_code
                result["ready_after_return"] = httpx.get(f"{svc_url}/ready").status_code
    finally:
        cleanup(tmp)
    result["ok"] = (
        result.get("slow_statuses") == [503]
        and result["slow_seconds"]["max"] <= budget + 1.0
        and result.get("in_flight_after_slow") == 0
        and result.get("gone_statuses") == [503]
        and result["gone_seconds"]["max"] <= 2.0
        and result.get("after_return_status") == 200
        and result.get("ready_after_return") == 200
    )
    return result


def burst_one_customer() -> dict[str, Any]:
    tmp = tmpdir("bench-burst-")
    settings = settings_file(tmp, per_key_per_minute=1_000_000, per_customer_per_minute=100_000)
    texts = [f"сообщение номер {i}" for i in range(1, 6)]
    try:
        with (
            ollama_stub(0.3) as ollama_url,
            service(ollama_url, kb=None, db=tmp / "b.db", settings=settings) as svc,
        ):

            async def go() -> list[dict[str, Any]]:
                async with httpx.AsyncClient(base_url=svc.url, headers=HEADERS, timeout=60) as h:

                    async def one(i: int, text: str) -> dict[str, Any]:
                        await asyncio.sleep(0.01 * i)  # n8n's arrival order
                        r = await h.post("/api/v1/process", json=process_body("BOT", "burst", text))
                        return {"text": text, "status": r.status_code, **r.json().get("meta", {})}

                    return await asyncio.gather(*(one(i, t) for i, t in enumerate(texts)))

            replies = asyncio.run(go())
    finally:
        cleanup(tmp)
    turns = [r.get("turn") for r in replies]
    return {
        "scenario": "five messages of one customer at once",
        "statuses": [r["status"] for r in replies],
        "turns_in_send_order": turns,
        "ok": all(r["status"] == 200 for r in replies) and turns == [1, 2, 3, 4, 5],
    }


def main() -> None:
    chosen = sys.argv[1:] or ["crash", "slow", "burst"]
    scenarios = {"crash": crash, "slow": slow, "burst": burst_one_customer}
    failed = False
    for name in chosen:
        outcome = scenarios[name]()
        failed = failed or not outcome["ok"]
        print(json.dumps(outcome, ensure_ascii=False), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

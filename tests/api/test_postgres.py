"""The bot on PostgreSQL with several instances: one customer's turns run one at
a time whichever instance receives them, a request_id is answered once, and a
lock holder that dies releases its lock (api.database, core.advisory)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from api.runtime import Runtime
from api.store.migrations import MIGRATIONS, migrate
from api.store.postgres import PostgresStore
from core.advisory import AdvisoryLocks, advisory_key
from core.concurrency import KeyedLocks, LockTimeout
from core.postgres import PoolSize, open_pool
from core.settings import load_settings
from graph.state import make_reply
from graph.threads import thread_config, thread_id_for
from graph.turn import TurnResult
from tests.api.service import AUTH, assert_error, body, serve_app, with_api
from tests.api.tables import rows
from tests.support.ollama_stub import OllamaStub
from tests.support.replies import analysis

CUSTOMER = ("BOT_7000", "77022951810")
THREAD = thread_id_for(*CUSTOMER)


@pytest.fixture
def backend() -> str:
    return "postgresql"


def echo(stub: OllamaStub, delay_s: float = 0.0) -> None:
    stub.delay_s = delay_s
    stub.fallback = lambda request: (
        analysis("unclear")
        if request.get("format")
        else "Ответ на: " + request["messages"][-1]["content"].splitlines()[-1]
    )


async def said(app: FastAPI) -> list[str]:
    runtime: Runtime = app.state.runtime
    snapshot = await runtime.graph_for(*CUSTOMER).aget_state(thread_config(*CUSTOMER))
    messages = (snapshot.values or {}).get("messages", [])
    return [str(m.content) for m in messages if m.type == "human"]


@pytest.fixture
async def two_instances(
    api_env: Path,
) -> AsyncIterator[tuple[tuple[FastAPI, httpx.AsyncClient], tuple[FastAPI, httpx.AsyncClient]]]:
    """Two apps on one database, each with its own pools, as two hosts would be."""
    async with serve_app() as first, serve_app() as second:
        assert first[0].state.runtime.database.backend == "postgresql"
        yield first, second


async def test_one_customers_turns_on_two_instances_run_one_at_a_time(
    stub: OllamaStub, two_instances: Any
) -> None:
    echo(stub, delay_s=0.2)
    (app, one), (_, other) = two_instances
    first, second = await asyncio.gather(
        one.post("/api/v1/process", json=body("первое", request_id="r1"), headers=AUTH),
        other.post("/api/v1/process", json=body("второе", request_id="r2"), headers=AUTH),
    )
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    calls = stub.chat_requests()
    # One turn ran entirely before the other: analysis, answer, analysis, answer...
    assert [bool(c.get("format")) for c in calls] == [True, False, True, False]
    # ...and the later turn, on the other instance, saw the earlier one's answer.
    earlier_answer = "Ответ на: " + calls[1]["messages"][-1]["content"].splitlines()[-1]
    assert earlier_answer in json.dumps(calls[2]["messages"], ensure_ascii=False)
    assert {first.json()["meta"]["turn"], second.json()["meta"]["turn"]} == {1, 2}
    assert sorted(await said(app)) == ["второе", "первое"]


async def test_a_duplicate_request_id_on_two_instances_is_answered_once(
    stub: OllamaStub, two_instances: Any
) -> None:
    echo(stub, delay_s=0.3)
    (app, one), (_, other) = two_instances
    request = body("Сколько стоит касса?", request_id="dup-1")
    responses = await asyncio.gather(
        *(http.post("/api/v1/process", json=request, headers=AUTH) for http in (one, other, one))
    )
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert {r.json()["answer"] for r in responses} == {"Ответ на: Сколько стоит касса?"}
    assert {r.json()["meta"]["turn"] for r in responses} == {1}
    assert len(stub.chat_requests()) == 2, "one turn: one analysis, one answer"
    assert await said(app) == ["Сколько стоит касса?"]
    assert rows("SELECT request_id FROM processed_requests") == [("dup-1",)]


async def test_a_request_claimed_by_an_instance_that_lost_its_lock_is_not_run_twice(
    stub: OllamaStub, two_instances: Any
) -> None:
    # The first instance's lock connection dropped mid-turn (simulated: the
    # second one's lock is only its own process's): the claim taken before the
    # turn still keeps the request to one turn.
    echo(stub, delay_s=0.4)
    (app, one), (other_app, other) = two_instances
    other_app.state.runtime.database.locks = KeyedLocks()
    request = body("Есть ли доставка?", request_id="claim-1")

    async def later() -> httpx.Response:
        await asyncio.sleep(0.2)
        return await other.post("/api/v1/process", json=request, headers=AUTH)

    first, second = await asyncio.gather(
        one.post("/api/v1/process", json=request, headers=AUTH), later()
    )
    assert first.status_code == 200, first.text
    assert_error(second, 503, "SERVICE_UNAVAILABLE")
    retried = await other.post("/api/v1/process", json=request, headers=AUTH)
    assert retried.json() == first.json()
    assert len(stub.chat_requests()) == 2, "one turn"
    assert await said(app) == ["Есть ли доставка?"]
    assert rows("SELECT COUNT(*) FROM request_claims") == [(0,)]


async def test_ready_reports_the_database_and_its_pools(
    stub: OllamaStub, two_instances: Any
) -> None:
    (_, http), _ = two_instances
    ready = await http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["db"] is True
    database = ready.json()["database"]
    assert database["backend"] == "postgresql"
    assert set(database["pools"]) == {"data", "locks"}
    assert database["pools"]["data"]["max"] == 8 and database["pools"]["data"]["size"] >= 1


async def test_an_exhausted_pool_is_a_503_on_every_route(stub: OllamaStub, api_env: Path) -> None:
    settings = load_settings()
    # Two connections: the start-up's migration holds one while it sets up.
    pool = settings.api.postgres.model_copy(update={"pool_max_size": 2, "pool_timeout_s": 0.3})
    async with serve_app(with_api(postgres=pool)) as (app, http):
        store: PostgresStore = app.state.runtime.store
        # Every connection of the pool held, as by requests stuck on a slow server.
        async with store.pool.connection(), store.pool.connection():
            profile = await http.get("/api/v1/users/77022951810/profile", headers=AUTH)
            metrics = await http.get("/metrics")
        for response in (profile, metrics):
            assert_error(response, 503, "SERVICE_UNAVAILABLE")
            assert int(response.headers["Retry-After"]) >= 1
        assert (await http.get("/metrics")).status_code == 200


HOLDER = """
import sys, time, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True)
conn.execute("BEGIN")
conn.execute("SELECT pg_advisory_xact_lock(%s)", (int(sys.argv[2]),))
print("held", flush=True)
time.sleep(600)
"""


def hold_in_another_process(url: str) -> subprocess.Popen[str]:
    """A process holding the customer's lock, as an instance in a turn would."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(advisory_key(THREAD))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


async def test_a_killed_lock_holder_releases_the_customers_lock(
    stub: OllamaStub, api_env: Path, database_url: str
) -> None:
    echo(stub)
    async with serve_app(with_api(turn_budget_s=20)) as (_, http):
        # After the start: its migrations (CREATE INDEX CONCURRENTLY) wait for
        # transactions that are open, the holder's too.
        holder = hold_in_another_process(database_url)
        try:
            request = asyncio.create_task(
                http.post("/api/v1/process", json=body("Алло?", request_id="k1"), headers=AUTH)
            )
            await asyncio.sleep(0.8)
            assert not request.done(), "the turn waits for the holder"
            assert stub.chat_requests() == []
            killed = time.perf_counter()
            os.kill(holder.pid, signal.SIGKILL)
            response = await asyncio.wait_for(request, 10)
            assert response.status_code == 200, response.text
            assert time.perf_counter() - killed < 5, "released when the connection died"
        finally:
            holder.kill()
            holder.wait()


async def test_a_lock_held_past_the_budget_is_a_503_and_keeps_nothing(
    stub: OllamaStub, api_env: Path, database_url: str
) -> None:
    echo(stub)
    async with serve_app(with_api(turn_budget_s=0.8)) as (app, http):
        holder = hold_in_another_process(database_url)
        try:
            request = body("Алло?", request_id="t1")
            started = time.perf_counter()
            busy = await http.post("/api/v1/process", json=request, headers=AUTH)
            assert time.perf_counter() - started < 2.5
            assert_error(busy, 503, "SERVICE_UNAVAILABLE")
            assert busy.headers["Retry-After"]
            assert await said(app) == [] and stub.chat_requests() == []
            holder.kill()
            holder.wait()
            retried = await http.post("/api/v1/process", json=request, headers=AUTH)
            assert retried.status_code == 200, retried.text
            assert await said(app) == ["Алло?"]
        finally:
            holder.kill()
            holder.wait()


# --- the lock and the store on their own ----------------------------------------


async def test_advisory_locks_exclude_across_pools_and_time_out(database_url: str) -> None:
    size = PoolSize(0, 4, 5.0)
    async with open_pool(database_url, size, "a") as a, open_pool(database_url, size, "b") as b:
        first, second = AdvisoryLocks(a), AdvisoryLocks(b)
        loop = asyncio.get_running_loop()
        async with first.hold("customer"):
            started = loop.time()
            with pytest.raises(LockTimeout):
                async with second.hold("customer", deadline=started + 0.3):
                    pytest.fail("the lock is held by the other pool")
            assert 0.25 < loop.time() - started < 1.5
            async with second.hold("someone else", deadline=loop.time() + 0.3):
                pass
        async with second.hold("customer", deadline=loop.time() + 0.3):
            pass
        # Every connection went back to its pool, no transaction left open.
        assert a.get_stats()["pool_available"] == a.get_stats()["pool_size"]
        assert b.get_stats()["pool_available"] == b.get_stats()["pool_size"]


async def test_a_cancelled_holder_lets_the_next_one_in(database_url: str) -> None:
    size = PoolSize(0, 2, 5.0)
    async with open_pool(database_url, size, "a") as a, open_pool(database_url, size, "b") as b:
        first, second = AdvisoryLocks(a), AdvisoryLocks(b)
        entered = asyncio.Event()

        async def hold_forever() -> None:
            async with first.hold("customer"):
                entered.set()
                await asyncio.sleep(600)

        task = asyncio.create_task(hold_forever())
        await entered.wait()
        task.cancel()
        loop = asyncio.get_running_loop()
        async with second.hold("customer", deadline=loop.time() + 2):
            pass


def result(turn: int = 1, **profile: Any) -> TurnResult:
    state = {"phase": "discovery", "turn": turn}
    return TurnResult(reply=make_reply(state, {}, "Ответ."), llm_calls=2, profile=profile)


async def test_the_store_on_postgresql(database_url: str) -> None:
    async with open_pool(database_url, PoolSize(1, 4, 5.0), "store") as pool:
        store = PostgresStore(pool)
        await store.setup()
        await store.setup()  # a second start migrates nothing
        async with pool.connection() as conn:
            assert await migrate(conn) == MIGRATIONS[-1].version
            cur = await conn.execute("SELECT version FROM schema_version ORDER BY version")
            assert [r["version"] for r in await cur.fetchall()] == [m.version for m in MIGRATIONS]

        await store.record_turn(
            "S", "U", result(city="Алматы", interest=["касса"]), {"q1": "fp"}, {"answer": "Да."}
        )
        stored = await store.stored_response("S", "U", "q1", 3600)
        assert stored is not None and (stored.response, stored.fingerprint) == (
            {"answer": "Да."},
            "fp",
        )
        assert await store.recorded_turns("S", "U") == 1
        [entry] = await store.profiles_of("U")
        assert (entry["city"], entry["interest"], entry["handoff"]) == ("Алматы", ["касса"], False)
        assert await store.active_conversations() == 1

        # A record that fails half-way leaves nothing.
        unbindable: dict[Any, Any] = {object(): "fingerprint"}
        with pytest.raises(psycopg.ProgrammingError):
            await store.record_turn("S", "V", result(city="Астана"), unbindable, {})
        assert await store.recorded_turns("S", "V") == 0
        assert await store.profiles_of("V") == []
        assert await store.purge_expired(0) == 1

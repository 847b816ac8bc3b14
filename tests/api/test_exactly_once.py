"""Every message exactly once: retries, crashes and a misbehaving model never
duplicate, lose or 500 a turn (README, "Delivery semantics")."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from langchain_core.messages import AIMessage, HumanMessage

from api.runtime import Runtime
from core.settings import load_settings
from graph.threads import thread_config
from tests.api.service import AUTH, assert_error, body, serve, serve_app, with_api
from tests.api.tables import rows
from tests.support.ollama_stub import OllamaStub
from tests.support.replies import analysis

CUSTOMER = ("BOT_7000", "77022951810")
# Every test of the service runs on SQLite and on PostgreSQL (tests/api/conftest.py).
BACKENDS = ("sqlite", "postgresql")


def echo(stub: OllamaStub) -> None:
    """Every analysis "unclear"; every answer names the customer's last line."""
    stub.fallback = lambda request: (
        analysis("unclear")
        if request.get("format")
        else "Ответ на: " + request["messages"][-1]["content"].splitlines()[-1]
    )


async def thread(app: FastAPI) -> dict[str, Any]:
    runtime: Runtime = app.state.runtime
    snapshot = await runtime.graph_for(*CUSTOMER).aget_state(thread_config(*CUSTOMER))
    return dict(snapshot.values or {})


def said(values: dict[str, Any]) -> list[str]:
    return [str(m.content) for m in values.get("messages", []) if isinstance(m, HumanMessage)]


def answered(values: dict[str, Any]) -> list[str]:
    return [str(m.content) for m in values.get("messages", []) if isinstance(m, AIMessage)]


# --- 1. several failed turns, then their retries ------------------------------


async def test_messages_left_by_failed_turns_are_answered_once_by_their_retries(
    stub: OllamaStub, api_env: Path
) -> None:
    echo(stub)
    a0, a1, a2 = (body(f"вопрос {i}", request_id=f"a{i}") for i in range(3))
    async with serve_app() as (app, http):
        assert (await http.post("/api/v1/process", json=a0, headers=AUTH)).status_code == 200
        stub.set_fault("down")
        for request in (a1, a2):
            failed = await http.post("/api/v1/process", json=request, headers=AUTH)
            assert_error(failed, 503, "SERVICE_UNAVAILABLE")
        stub.set_fault("none")
        first = await http.post("/api/v1/process", json=a1, headers=AUTH)
        calls = len(stub.chat_requests())
        second = await http.post("/api/v1/process", json=a2, headers=AUTH)
        values = await thread(app)
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    # One turn answered both waiting messages; the retry of the second gets its answer.
    assert second.json()["answer"] == first.json()["answer"] == "Ответ на: вопрос 2"
    assert second.json()["meta"]["turn"] == first.json()["meta"]["turn"] == 2
    assert len(stub.chat_requests()) == calls, "the second retry ran no turn"
    assert said(values) == ["вопрос 0", "вопрос 1", "вопрос 2"]
    assert values["turn"] == 2 == len(answered(values))


async def test_queued_messages_cut_off_by_the_budget_end_up_once_each(
    stub: OllamaStub, api_env: Path
) -> None:
    echo(stub)
    stub.delay_s = 0.25  # two calls: a turn takes about half a second
    texts = [f"сообщение {i}" for i in range(6)]
    requests = [body(t, request_id=f"m{i}") for i, t in enumerate(texts)]
    async with serve_app(with_api(turn_budget_s=1.2)) as (app, http):

        async def send(i: int) -> httpx.Response:
            await asyncio.sleep(0.01 * i)
            return await http.post("/api/v1/process", json=requests[i], headers=AUTH)

        first = await asyncio.gather(*(send(i) for i in range(len(requests))))
        assert {r.status_code for r in first} <= {200, 503}
        await asyncio.sleep(0.6)  # let abandoned model calls finish
        stub.delay_s = 0.0
        final = {i: r for i, r in enumerate(first) if r.status_code == 200}
        for i in sorted(set(range(len(requests))) - set(final)):
            final[i] = await http.post("/api/v1/process", json=requests[i], headers=AUTH)
        values = await thread(app)
    assert all(r.status_code == 200 for r in final.values()), [r.text for r in final.values()]
    assert sorted(said(values)) == sorted(texts), "each message once"
    assert len(set(said(values))) == len(texts)
    assert values["turn"] == len(answered(values))
    # Every answer a request got is in the conversation.
    assert {r.json()["answer"] for r in final.values()} <= set(answered(values))


# --- 2. a crash between the checkpoint and the idempotency record --------------


async def test_a_retry_after_a_crash_before_the_record_returns_the_checkpointed_answer(
    stub: OllamaStub, api_env: Path
) -> None:
    echo(stub)
    request = body("Сколько стоит касса?", request_id="c1")
    async with serve_app() as (app, http):

        async def crash(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the process died here")

        app.state.runtime.store.record_turn = crash
        await http.post("/api/v1/process", json=request, headers=AUTH)
    calls = len(stub.chat_requests())
    async with serve_app() as (app, http):  # the service restarted
        retried = await http.post("/api/v1/process", json=request, headers=AUTH)
        values = await thread(app)
        profile = await http.get(f"/api/v1/users/{CUSTOMER[1]}/profile", headers=AUTH)
    assert retried.status_code == 200, retried.text
    assert retried.json()["answer"] == "Ответ на: Сколько стоит касса?"
    assert retried.json()["meta"]["turn"] == 1
    assert len(stub.chat_requests()) == calls, "the graph did not run again"
    assert said(values) == ["Сколько стоит касса?"]
    assert profile.status_code == 200
    assert rows("SELECT request_id FROM processed_requests") == [("c1",)]
    assert rows("SELECT turns FROM conversations") == [(1,)]


# --- 3. retries without request_id --------------------------------------------


@pytest.mark.parametrize("timestamp", [True, False], ids=["with timestamp_ms", "text only"])
async def test_retries_without_a_request_id_store_the_message_once(
    stub: OllamaStub, api_env: Path, timestamp: bool
) -> None:
    echo(stub)
    request = body("Сколько стоит касса?")
    if not timestamp:
        request["message"] = {"text": "Сколько стоит касса?"}
    async with serve_app() as (app, http):
        stub.set_fault("down")
        for _ in range(3):
            assert (
                await http.post("/api/v1/process", json=request, headers=AUTH)
            ).status_code == 503
        stub.set_fault("none")
        ok = await http.post("/api/v1/process", json=request, headers=AUTH)
        assert ok.status_code == 200, ok.text
        assert said(await thread(app)) == ["Сколько стоит касса?"]
        prompt = stub.chat_requests()[-1]["messages"][-1]["content"]
        assert prompt.count("Сколько стоит касса?") == 1
        # Once answered, the same words sent again later are a new message.
        later = dict(request, message={**request["message"], "timestamp_ms": 1770801999999})
        if not timestamp:
            later = request
        again = await http.post("/api/v1/process", json=later, headers=AUTH)
        assert again.json()["meta"]["turn"] == 2
        assert said(await thread(app)) == ["Сколько стоит касса?"] * 2


# --- 4. a model that answers garbage -----------------------------------------


@pytest.mark.parametrize("fault", ["http_400", "http_500", "non_json", "cut_json"])
async def test_a_broken_model_reply_is_a_retryable_503_logged_with_its_request(
    stub: OllamaStub, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, fault: Any
) -> None:
    stub.set_fault(fault)
    with caplog.at_level(logging.INFO):
        response = await client.post(
            "/api/v1/process", json=body(request_id=f"req-{fault}"), headers=AUTH
        )
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response.headers["Retry-After"]) >= 1
    failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert failures and all(getattr(r, "request_id", None) == f"req-{fault}" for r in failures)


@pytest.mark.parametrize(
    ("fault", "answer"),
    [
        ("empty", "Уточню этот вопрос у коллег и вернусь с ответом."),  # guards.fallback_answer
        ("invalid_structured", None),  # repaired, then the safe default analysis
    ],
)
async def test_an_empty_or_unstructured_reply_is_answered_safely(
    stub: OllamaStub, client: httpx.AsyncClient, fault: Any, answer: str | None
) -> None:
    stub.set_fault(fault)
    stub.fallback = lambda request: "Уточню у коллег и вернусь с ответом."
    response = await client.post("/api/v1/process", json=body("Сколько стоит?"), headers=AUTH)
    assert response.status_code == 200, response.text
    if answer:
        assert response.json()["answer"] == answer
    else:
        assert response.json()["meta"]["intent"] == "unclear"


async def test_a_model_that_hangs_is_a_503_within_the_budget(
    stub: OllamaStub, api_env: Path
) -> None:
    stub.set_fault("hang")
    async with serve(with_api(turn_budget_s=0.5)) as http:
        response = await http.post("/api/v1/process", json=body(), headers=AUTH)
    stub.set_fault("none")
    assert_error(response, 503, "SERVICE_UNAVAILABLE")


# --- 5. a database locked by another process ---------------------------------


@pytest.mark.sqlite_only
async def test_a_database_locked_past_the_busy_timeout_is_a_503_and_loses_nothing(
    stub: OllamaStub, api_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    echo(stub)
    monkeypatch.setenv("SQLITE_BUSY_TIMEOUT_MS", "200")
    request = body("второй", request_id="l2")
    async with serve_app() as (app, http):
        first = body("первый", request_id="l1")
        assert (await http.post("/api/v1/process", json=first, headers=AUTH)).status_code == 200
        locker = sqlite3.connect(load_settings().env.db_path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # a backup or a sqlite3 shell
        try:
            locked = await http.post("/api/v1/process", json=request, headers=AUTH)
        finally:
            locker.execute("COMMIT")
            locker.close()
        assert_error(locked, 503, "SERVICE_UNAVAILABLE")
        assert int(locked.headers["Retry-After"]) >= 1
        retried = await http.post("/api/v1/process", json=request, headers=AUTH)
        values = await thread(app)
    assert retried.status_code == 200, retried.text
    assert said(values) == ["первый", "второй"]
    assert values["turn"] == 2


# --- 6. replays are not rate limited -----------------------------------------


async def test_replays_of_an_answered_request_do_not_count_toward_the_rate_limit(
    stub: OllamaStub, api_env: Path
) -> None:
    echo(stub)
    request = body("первый", request_id="r1")
    async with serve(with_api(per_customer_per_minute=2)) as http:
        answer = (await http.post("/api/v1/process", json=request, headers=AUTH)).json()
        for _ in range(25):
            replay = await http.post("/api/v1/process", json=request, headers=AUTH)
            assert replay.status_code == 200, replay.text
            assert replay.json()["answer"] == answer["answer"]
        other = await http.post(
            "/api/v1/process", json=body("второй", request_id="r2"), headers=AUTH
        )
        assert other.status_code == 200


# --- 7. one request_id, two bodies ---------------------------------------------


async def test_a_request_id_sent_again_with_other_words_is_a_409(
    stub: OllamaStub, client: httpx.AsyncClient
) -> None:
    echo(stub)
    answered_first = body("первый текст", request_id="x1")
    assert (
        await client.post("/api/v1/process", json=answered_first, headers=AUTH)
    ).status_code == 200
    conflict = await client.post(
        "/api/v1/process", json=body("другой текст", request_id="x1"), headers=AUTH
    )
    assert_error(conflict, 409, "CONFLICT")

    # The same for a message a failed turn left waiting.
    stub.set_fault("down")
    await client.post("/api/v1/process", json=body("ждёт ответа", request_id="x2"), headers=AUTH)
    stub.set_fault("none")
    changed = await client.post(
        "/api/v1/process", json=body("подменённый текст", request_id="x2"), headers=AUTH
    )
    assert_error(changed, 409, "CONFLICT")
    same = await client.post(
        "/api/v1/process", json=body("ждёт ответа", request_id="x2"), headers=AUTH
    )
    assert same.json()["answer"] == "Ответ на: ждёт ответа"


# --- 9. the smaller ones -----------------------------------------------------------


async def test_a_null_context_is_no_context(stub: OllamaStub, client: httpx.AsyncClient) -> None:
    echo(stub)
    response = await client.post("/api/v1/process", json=body(context=None), headers=AUTH)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/redoc"])
async def test_api_docs_are_off_in_production_and_on_in_development(
    api_env: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    async with serve() as http:
        assert_error(await http.get(path), 404, "NOT_FOUND")
    monkeypatch.setenv("DEV_MODE", "true")
    async with serve() as http:
        assert (await http.get(path)).status_code == 200


async def test_wrong_keys_from_one_address_are_throttled(client: httpx.AsyncClient) -> None:
    wrong = {"Authorization": "Bearer guess"}
    statuses = [
        (await client.post("/api/v1/process", json=body(), headers=wrong)).status_code
        for _ in range(40)
    ]
    assert statuses[0] == 401
    assert statuses[-1] == 429
    limited = await client.post("/api/v1/process", json=body(), headers=wrong)
    assert_error(limited, 429, "RATE_LIMIT")
    assert int(limited.headers["Retry-After"]) >= 1


@pytest.mark.sqlite_only
async def test_the_database_file_is_not_world_readable(stub: OllamaStub, api_env: Path) -> None:
    echo(stub)
    async with serve() as http:
        assert (await http.post("/api/v1/process", json=body(), headers=AUTH)).status_code == 200
    mode = stat.S_IMODE(os.stat(load_settings().env.db_path).st_mode)
    assert mode & 0o007 == 0, oct(mode)

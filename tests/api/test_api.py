"""The n8n-facing HTTP contract (runbook §7): every status code and error shape,
memory, isolation, idempotency, serialization, profiles and privacy of logs."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from core.concurrency import KeyedLocks
from core.logs import JSONFormatter, hash_id
from core.settings import SettingsError, load_settings
from graph.threads import thread_id_for
from tests.api.service import AUTH, KEY, assert_error, body, serve, serve_app, with_api
from tests.api.tables import rows
from tests.support import GRAPH_KB
from tests.support.replies import analysis

# Every test of the service runs on SQLite and on PostgreSQL (tests/api/conftest.py).
BACKENDS = ("sqlite", "postgresql")

# --- the happy path and memory -------------------------------------------------


async def test_new_dialogue_and_its_continuation(stub, client) -> None:
    stub.push(
        analysis("greeting"),
        "Добрый день! Расскажите, пожалуйста, о вашей компании.",
        analysis("price_question", search_query="цена тарифов"),
        "Тариф Mini стоит 5 000 ₸ в год.",
    )
    first = await client.post(
        "/api/v1/process", json=body("Привет, расскажи о вашей CRM"), headers=AUTH
    )
    assert first.status_code == 200, first.text
    payload = first.json()
    assert payload["answer"] == "Добрый день! Расскажите, пожалуйста, о вашей компании."
    meta = payload["meta"]
    assert meta["model"] == "ministral-3:14b-instruct-2512-q8_0"
    assert isinstance(meta["processing_ms"], int) and meta["processing_ms"] >= 0
    assert meta["kb_used"] in (True, False)
    assert {"phase", "intent", "handoff", "outcome"} <= set(meta)

    second = await client.post("/api/v1/process", json=body("Сколько стоит?"), headers=AUTH)
    assert second.json()["answer"] == "Тариф Mini стоит 5 000 ₸ в год."
    assert second.json()["meta"]["kb_used"] is True
    assert second.json()["meta"]["turn"] == 2
    history = stub.chat_requests()[-1]["messages"]
    assert any("расскажи о вашей CRM" in m["content"] for m in history)


async def test_two_customers_of_one_bot_are_isolated(stub, client) -> None:
    stub.push(
        analysis("business_info", profile={"business_type": "аптека", "city": "Караганда"}),
        "Понял, аптека в Караганде.",
        analysis("greeting"),
        "Здравствуйте! Чем занимаетесь?",
    )
    await client.post(
        "/api/v1/process", json=body("У меня аптека в Караганде", user="A1"), headers=AUTH
    )
    other = await client.post(
        "/api/v1/process", json=body("Привет, нужна касса", user="B2"), headers=AUTH
    )
    assert other.json()["meta"]["turn"] == 1
    assert "аптека" not in json.dumps(stub.chat_requests()[2:], ensure_ascii=False)
    assert (await client.get("/api/v1/users/B2/profile", headers=AUTH)).json()["profiles"][0].get(
        "business_type"
    ) is None


async def test_ids_with_colons_are_separate_customers(stub, client) -> None:
    stub.push(analysis("business_info", profile={"business_type": "аптека"}), "Понял, аптека.")
    stub.fallback = lambda request: analysis("unclear") if request.get("format") else "Понятно."
    first = {**body("У меня аптека"), "session_id": "A:B", "user_id": "C"}
    second = {**body("Привет, нужна касса"), "session_id": "A", "user_id": "B:C"}
    assert (await client.post("/api/v1/process", json=first, headers=AUTH)).status_code == 200
    other = await client.post("/api/v1/process", json=second, headers=AUTH)
    assert other.json()["meta"]["turn"] == 1
    assert "аптека" not in json.dumps(stub.chat_requests()[2:], ensure_ascii=False)


async def test_profile_after_sharing_a_phone(stub, client) -> None:
    stub.push(
        analysis("share_contacts", profile={"contact_name": "Ержан", "city": "Алматы"}),
        "Спасибо, Ержан! Менеджер свяжется с вами.",
    )
    await client.post(
        "/api/v1/process", json=body("Ержан, Алматы, +7 701 234 56 78", user="U5"), headers=AUTH
    )
    response = await client.get("/api/v1/users/U5/profile", headers=AUTH)
    assert response.status_code == 200
    payload = response.json()
    assert payload["user_id"] == "U5"
    [entry] = payload["profiles"]
    assert entry["session_id"] == "BOT_7000"
    assert entry["phone"] == "77012345678"
    assert entry["contact_name"] == "Ержан"
    assert entry["city"] == "Алматы"
    assert entry["updated_at"]


async def test_profile_keeps_every_interest_shown(stub, client) -> None:
    stub.push(
        analysis("business_info", profile={"interest": "маркировка лекарств"}),
        "Понял, у вас аптека. Сколько у вас точек?",
        analysis("business_info", profile={"interest": "тариф Standard"}),
        "Хорошо, подберём вариант под Standard. В каком вы городе?",
    )
    for text in ("У нас аптека, нужна маркировка", "Смотрим на Standard"):
        response = await client.post("/api/v1/process", json=body(text, user="U6"), headers=AUTH)
        assert response.status_code == 200
    response = await client.get("/api/v1/users/U6/profile", headers=AUTH)
    [entry] = response.json()["profiles"]
    assert entry["interest"] == ["маркировка лекарств", "тариф Standard"]

    # A row written before interests became a list holds one plain string.
    rows("UPDATE user_profiles SET interest='касса' WHERE user_id='U6'")
    response = await client.get("/api/v1/users/U6/profile", headers=AUTH)
    assert response.json()["profiles"][0]["interest"] == ["касса"]


@pytest.mark.sqlite_only
async def test_sqlite_setup_of_the_runbook(stub, api_env, monkeypatch) -> None:
    # Runbook §7.2: WAL with timeout/busy_timeout on every connection, and the
    # conversation and the collected profile stored apart after each turn.
    monkeypatch.setenv("SQLITE_BUSY_TIMEOUT_MS", "1234")
    stub.push(analysis("business_info", profile={"city": "Алматы"}), "Понял, Алматы.")
    async with serve_app() as (app, http):
        response = await http.post("/api/v1/process", json=body("Мы в Алматы"), headers=AUTH)
        assert response.status_code == 200
        runtime = app.state.runtime
        connections = [runtime.store.conn, *(g.checkpointer.conn for g in runtime.graphs)]
        assert len(connections) == 1 + runtime.settings.api.memory_connections
        for conn in connections:
            async with conn.execute("PRAGMA journal_mode") as cur:
                assert (await cur.fetchone())[0] == "wal"
            async with conn.execute("PRAGMA busy_timeout") as cur:
                assert (await cur.fetchone())[0] == 1234
    with sqlite3.connect(load_settings().env.db_path) as db:
        assert db.execute("SELECT turns FROM conversations").fetchall() == [(1,)]
        assert db.execute("SELECT city FROM user_profiles").fetchall() == [("Алматы",)]
        assert db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0] >= 1


@pytest.mark.sqlite_only
async def test_conversation_row_names_the_thread_in_use(stub, api_env) -> None:
    # A session id with ':' moved to another thread when thread keys began to
    # encode it; the operations row written before must follow it.

    stub.push(analysis("greeting"), "Здравствуйте! Чем занимаетесь?")
    request = {**body("Здравствуйте"), "session_id": "wa:BOT", "user_id": "7701"}
    async with serve_app() as (app, http):
        store = app.state.runtime.store
        await store.conn.execute(
            "INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?, ?)",
            ("wa:BOT", "7701", "the-thread-of-the-old-key", 3, "then", "then", 0.0),
        )
        await store.conn.commit()
        assert (await http.post("/api/v1/process", json=request, headers=AUTH)).status_code == 200
    with sqlite3.connect(load_settings().env.db_path) as db:
        rows = db.execute("SELECT thread_id, turns FROM conversations").fetchall()
    assert rows == [(thread_id_for("wa:BOT", "7701"), 1)]


# --- idempotency and serialization -------------------------------------------


async def test_repeated_request_id_returns_the_stored_answer(stub, client) -> None:
    stub.push(analysis("greeting"), "Здравствуйте! Чем занимаетесь?")
    request = body("Привет, нужна касса", request_id="req-1")
    first = await client.post("/api/v1/process", json=request, headers=AUTH)
    calls = len(stub.chat_requests())
    again = await client.post("/api/v1/process", json=request, headers=AUTH)
    assert again.status_code == 200
    assert again.json()["answer"] == first.json()["answer"]
    assert len(stub.chat_requests()) == calls, "the graph did not run again"


async def test_stored_answers_expire_after_the_ttl(stub, api_env) -> None:
    stub.fallback = lambda request: (
        analysis("unclear") if request.get("format") else f"Ответ номер {len(stub.requests)}."
    )
    request = body("Привет, нужна касса", request_id="req-ttl")
    async with serve(with_api(idempotency_ttl_s=1)) as http:
        await http.post("/api/v1/process", json=request, headers=AUTH)
        await http.post("/api/v1/process", json=request, headers=AUTH)
        assert len(stub.chat_requests()) == 2, "within the TTL the stored answer is replayed"
        await asyncio.sleep(1.1)
        again = await http.post("/api/v1/process", json=request, headers=AUTH)
    assert again.json()["meta"]["turn"] == 2
    assert len(stub.chat_requests()) == 4, "after the TTL the request is a new turn"


async def test_expired_answers_leave_the_database_without_a_restart(stub, api_env) -> None:
    # The answers hold conversation text: a long-running service deletes them
    # once their TTL has passed (hourly, or TTL/4 when shorter: 0.25 s here).
    stub.push(analysis("greeting"), "Здравствуйте!")
    async with serve(with_api(idempotency_ttl_s=1)) as http:
        request = body("Привет", request_id="req-purge")
        assert (await http.post("/api/v1/process", json=request, headers=AUTH)).status_code == 200
        assert rows("SELECT COUNT(*) FROM processed_requests") == [(1,)]
        for _ in range(40):
            await asyncio.sleep(0.1)
            if rows("SELECT COUNT(*) FROM processed_requests") == [(0,)]:
                break
        assert rows("SELECT COUNT(*) FROM processed_requests") == [(0,)]


async def test_repeat_arriving_during_the_first_waits_for_it(stub, client) -> None:
    stub.delay_s = 0.3
    stub.push(analysis("greeting"), "Здравствуйте! Чем занимаетесь?")
    request = body("Привет, нужна касса", request_id="req-2")
    first, second = await asyncio.gather(
        client.post("/api/v1/process", json=request, headers=AUTH),
        client.post("/api/v1/process", json=request, headers=AUTH),
    )
    assert first.status_code == second.status_code == 200
    assert first.json()["answer"] == second.json()["answer"]
    assert len(stub.chat_requests()) == 2


async def test_turns_of_one_customer_are_serialized(stub, client) -> None:
    stub.delay_s = 0.2
    stub.fallback = lambda request: (
        analysis("unclear")
        if request.get("format")
        else f"Ответ: {request['messages'][-1]['content']}"
    )
    first, second = await asyncio.gather(
        client.post("/api/v1/process", json=body("первое"), headers=AUTH),
        client.post("/api/v1/process", json=body("второе"), headers=AUTH),
    )
    assert {first.json()["answer"], second.json()["answer"]} == {"Ответ: первое", "Ответ: второе"}
    calls = stub.chat_requests()
    # One turn ran entirely before the other: analysis, answer, analysis, answer...
    assert [bool(c.get("format")) for c in calls] == [True, False, True, False]
    # ...and the later turn saw the earlier one's answer in its history.
    earlier_answer = f"Ответ: {calls[1]['messages'][-1]['content']}"
    assert earlier_answer in json.dumps(calls[2]["messages"], ensure_ascii=False)
    assert {first.json()["meta"]["turn"], second.json()["meta"]["turn"]} == {1, 2}


async def test_different_customers_run_concurrently(stub, client) -> None:
    stub.delay_s = 0.4
    # Calls of different customers interleave, so replies go by kind, not by order.
    stub.fallback = lambda request: (
        analysis("greeting") if request.get("format") else "Здравствуйте!"
    )
    started = time.perf_counter()
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/process", json=body("Привет, нужна касса", user=u), headers=AUTH)
            for u in ("C1", "C2", "C3")
        )
    )
    elapsed = time.perf_counter() - started
    assert all(r.status_code == 200 for r in responses)
    # Serialized, three customers would take 3 × 2 × 0.4 s; concurrently about 0.8 s.
    assert elapsed < 2.4


# --- errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": KEY},
        {"Authorization": "Bearer "},
    ],
)
async def test_unauthorized(client, headers: dict[str, str]) -> None:
    response = await client.post("/api/v1/process", json=body(), headers=headers)
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.json()["error"]["message"] == "Invalid API key"
    assert_error(await client.get("/api/v1/users/x/profile", headers=headers), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key"}])
@pytest.mark.parametrize("content", [b'{"session_id": ', b"not json", b'{"session_id": 1}'])
async def test_unauthorized_before_the_body_is_judged(
    client, headers: dict[str, str], content: bytes
) -> None:
    # Runbook §7.1: no or a wrong Bearer token is 401, whatever the body.
    response = await client.post(
        "/api/v1/process", content=content, headers={**headers, "Content-Type": "application/json"}
    )
    assert_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "payload",
    [
        {"session_id": "BOT", "message": {"text": "hi"}},  # no user_id
        {"user_id": "U", "message": {"text": "hi"}},  # no session_id
        {"session_id": "BOT", "user_id": "U"},  # no message
        body(user="a" * 129),
        body(user="../../etc/passwd"),
        body(user="имя"),
        body(text="   "),
        body(text=""),
        body(text=123),
        body(channel="telegram"),
        body(request_id="id with spaces"),
        {"session_id": "BOT", "user_id": "U", "message": "hi"},
        [1, 2, 3],
        {"session_id": "BOT", "user_id": "U", "message": {"text": "hi", "timestamp_ms": 10**20}},
    ],
)
async def test_bad_request(client, payload: Any) -> None:
    response = await client.post("/api/v1/process", json=payload, headers=AUTH)
    assert_error(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"[1, 2, 3]", "application/json"),
        (b'"hello"', "application/json"),
        (b"session_id=BOT&user_id=U&text=hi", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
    ],
)
async def test_a_body_that_is_no_json_object_says_what_was_expected(
    client, content: bytes, content_type: str
) -> None:
    response = await client.post(
        "/api/v1/process", content=content, headers={**AUTH, "Content-Type": content_type}
    )
    assert_error(response, 400, "BAD_REQUEST")
    message = response.json()["error"]["message"]
    if content:
        assert "JSON object" in message and "application/json" in message, message
        assert f"received Content-Type: {content_type}" in message, message


async def test_a_wrong_method_has_its_own_code(client) -> None:
    response = await client.get("/api/v1/process", headers=AUTH)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "POST"


async def test_half_an_emoji_is_answered(stub, client) -> None:
    # A gateway that cuts a message inside an emoji sends half a surrogate pair,
    # which UTF-8 cannot encode; the customer still gets an answer.
    stub.push(analysis("unclear"), "Уточните, пожалуйста, вопрос.")
    raw = json.dumps(body("Сколько стоит касса? \ud83d"), ensure_ascii=True).encode()
    response = await client.post(
        "/api/v1/process", content=raw, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert stub.chat_requests()[0]["messages"][-1]["content"].endswith("касса? \ufffd")


async def test_invalid_json_and_text_over_the_limit(client, settings) -> None:
    broken = await client.post(
        "/api/v1/process",
        content=b'{"session_id": ',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert_error(broken, 400, "BAD_REQUEST")
    assert "JSON" in broken.json()["error"]["message"]
    too_long = body(text="а" * (settings.api.max_text_chars + 1))
    assert_error(
        await client.post("/api/v1/process", json=too_long, headers=AUTH), 400, "BAD_REQUEST"
    )


async def test_body_over_one_megabyte(client) -> None:
    huge = json.dumps(body(text="я" * 600_000)).encode()
    response = await client.post(
        "/api/v1/process", content=huge, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 100_000

    streamed = await client.post(
        "/api/v1/process", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert_error(streamed, 413, "PAYLOAD_TOO_LARGE")


async def test_wrong_keys_never_lock_out_the_right_one(stub, api_env) -> None:
    stub.push(analysis("greeting"), "Здравствуйте!")
    wrong = {"Authorization": "Bearer wrong-key"}
    async with serve(with_api(failed_auth_per_minute=3)) as http:
        statuses = [
            (await http.post("/api/v1/process", json=body(), headers=wrong)).status_code
            for _ in range(6)
        ]
        right = await http.post("/api/v1/process", json=body(), headers=AUTH)
        again = await http.post("/api/v1/process", json=body(), headers=wrong)
    assert statuses == [401, 401, 401, 429, 429, 429]
    assert right.status_code == 200, right.text
    assert_error(again, 429, "RATE_LIMIT")
    assert int(again.headers["Retry-After"]) >= 1


@pytest.mark.sqlite_only
@pytest.mark.parametrize("trusted", [True, False])
async def test_wrong_keys_count_per_client_behind_a_trusted_proxy(
    api_env, monkeypatch, trusted: bool
) -> None:
    # nginx on another host (10.0.0.5) in front: listed in FORWARDED_ALLOW_IPS,
    # its X-Forwarded-For names the client; not listed, every client is nginx.
    if trusted:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.5")
    settings = with_api(failed_auth_per_minute=2)
    app = create_app(settings)
    config = uvicorn.Config(
        app, proxy_headers=True, forwarded_allow_ips=settings.env.forwarded_allow_ips
    )
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=("10.0.0.5", 41000))

    def wrong_key(client: str) -> dict[str, str]:
        return {"Authorization": "Bearer wrong", "X-Forwarded-For": client}

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bot") as http,
    ):
        for _ in range(3):
            attacker = await http.get("/api/v1/users/u/profile", headers=wrong_key("203.0.113.7"))
        other = await http.get("/api/v1/users/u/profile", headers=wrong_key("198.51.100.2"))
    assert_error(attacker, 429, "RATE_LIMIT")
    assert_error(other, 401 if trusted else 429, "UNAUTHORIZED" if trusted else "RATE_LIMIT")


async def test_not_found(client) -> None:
    assert_error(await client.get("/api/v1/users/nobody/profile", headers=AUTH), 404, "NOT_FOUND")
    assert_error(await client.get("/api/v2/nothing", headers=AUTH), 404, "NOT_FOUND")


async def test_rate_limit_per_customer(stub, api_env, monkeypatch) -> None:
    stub.push(analysis("greeting"), "Первый.", analysis("greeting"), "Второй.")
    stub.push(analysis("greeting"), "Третий.")
    async with serve(with_api(per_customer_per_minute=2)) as http:
        for text in ("раз", "два"):
            response = await http.post("/api/v1/process", json=body(text), headers=AUTH)
            assert response.status_code == 200
        limited = await http.post("/api/v1/process", json=body("три"), headers=AUTH)
        assert_error(limited, 429, "RATE_LIMIT")
        assert int(limited.headers["Retry-After"]) >= 1
        other = await http.post("/api/v1/process", json=body("раз", user="other"), headers=AUTH)
        assert other.status_code == 200


async def test_rate_limit_per_key(stub, api_env) -> None:
    stub.fallback = lambda request: (
        analysis("greeting") if request.get("format") else "Здравствуйте!"
    )
    async with serve(with_api(per_key_per_minute=2)) as http:
        for user in ("K1", "K2"):
            response = await http.post("/api/v1/process", json=body(user=user), headers=AUTH)
            assert response.status_code == 200
        limited = await http.post("/api/v1/process", json=body(user="K3"), headers=AUTH)
        assert_error(limited, 429, "RATE_LIMIT")
        assert int(limited.headers["Retry-After"]) >= 1


async def test_llm_down_is_503_within_two_seconds(api_env, monkeypatch) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://127.0.0.1:9")
    async with serve() as http:
        started = time.perf_counter()
        response = await http.post("/api/v1/process", json=body(), headers=AUTH)
        assert time.perf_counter() - started < 2
        assert_error(response, 503, "SERVICE_UNAVAILABLE")
        ready = await http.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"db": True, "llm": False, "kb": True}


async def test_turn_over_budget_is_503(stub, api_env) -> None:
    stub.delay_s = 2.0
    stub.push(analysis("greeting"), "поздно")
    async with serve(with_api(turn_budget_s=0.5)) as http:
        started = time.perf_counter()
        response = await http.post("/api/v1/process", json=body("Первый вопрос"), headers=AUTH)
        assert time.perf_counter() - started < 1.5
        assert_error(response, 503, "SERVICE_UNAVAILABLE")

        # Nothing the customer said is lost: the next turn answers both messages.
        await asyncio.sleep(2.0)  # let the stub finish the abandoned call
        stub.delay_s = 0.0
        stub.queue.clear()
        stub.push(analysis("unclear"), "Отвечаю на оба вопроса.")
        after = await http.post("/api/v1/process", json=body("Второй вопрос"), headers=AUTH)
        assert after.status_code == 200
        last_prompt = stub.chat_requests()[-2]["messages"][-1]["content"]
        assert "Первый вопрос" in last_prompt and "Второй вопрос" in last_prompt


async def test_retry_after_a_503_counts_the_message_once(stub, client) -> None:
    # n8n retries a 503 with the same request_id. The failed turn had counted a
    # frustrated message; counted again, the first answer would be a handoff.
    request = body("Сколько можно ждать, сколько стоит касса?!", request_id="n8n-1-abc")
    stub.push(analysis("price_question", frustrated=True))  # the answer call fails
    assert_error(
        await client.post("/api/v1/process", json=request, headers=AUTH), 503, "SERVICE_UNAVAILABLE"
    )

    stub.push(analysis("price_question", frustrated=True), "Уточню у коллег и вернусь с ответом.")
    retried = await client.post("/api/v1/process", json=request, headers=AUTH)
    assert retried.status_code == 200, retried.text
    assert retried.json()["meta"]["turn"] == 1
    assert retried.json()["meta"]["handoff"] is False
    assert stub.chat_requests()[-2]["messages"][-1]["content"].endswith(
        "Новое сообщение клиента:\nСколько можно ждать, сколько стоит касса?!"
    )


async def test_waiting_for_the_previous_turn_counts_towards_the_budget(stub, api_env) -> None:
    # Runbook §7.3: an answer within 30-45 s. A message that queues behind the
    # customer's previous turn gets the budget of one turn in all, not one more.
    stub.delay_s = 0.5  # two calls: a turn takes about 1 s
    stub.fallback = lambda request: analysis("unclear") if request.get("format") else "Понятно."
    budget = 1.3

    async def timed(text: str, pause: float) -> tuple[httpx.Response, float]:
        await asyncio.sleep(pause)
        started = time.perf_counter()
        response = await http.post("/api/v1/process", json=body(text), headers=AUTH)
        return response, time.perf_counter() - started

    async with serve(with_api(turn_budget_s=budget)) as http:
        (first, _), (second, waited) = await asyncio.gather(
            timed("первое", 0.0), timed("второе", 0.05)
        )
    assert first.status_code == 200
    assert waited < budget + 0.4, "the queued request took two turns' time"
    assert_error(second, 503, "SERVICE_UNAVAILABLE")


async def test_lock_wait_gives_up_at_the_deadline() -> None:

    locks = KeyedLocks()
    loop = asyncio.get_running_loop()
    async with locks.hold("c"):
        started = loop.time()
        with pytest.raises(TimeoutError):
            async with locks.hold("c", deadline=started + 0.1):
                pytest.fail("the lock is held")
        assert loop.time() - started < 0.5
        assert len(locks) == 1
        async with locks.hold("other", deadline=loop.time() + 0.1):
            pass
    assert len(locks) == 0
    async with locks.hold("c", deadline=loop.time() + 0.1):
        pass


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        # What SQLite raises past the busy timeout while another process holds
        # the file: transient, like on /process.
        ("database is locked", 503, "SERVICE_UNAVAILABLE"),
        ("database is busy", 503, "SERVICE_UNAVAILABLE"),
        # Any other operational error is a bug.
        ("no such table: user_profiles", 500, "INTERNAL"),
    ],
)
async def test_a_busy_database_is_a_503_on_every_route(
    stub, api_env, monkeypatch, caplog, error: str, status: int, code: str
) -> None:
    async def fail(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError(error)

    async with serve_app() as (app, http):
        store = app.state.runtime.store
        monkeypatch.setattr(store, "profiles_of", fail)
        monkeypatch.setattr(store, "active_conversations", fail)
        with caplog.at_level(logging.INFO):
            profile = await http.get("/api/v1/users/77022951810/profile", headers=AUTH)
            metrics = await http.get("/metrics")
    for response in (profile, metrics):
        assert_error(response, status, code)
        assert ("Retry-After" in response.headers) == (status == 503)
    reasons = [line.get("reason") for line in error_lines(caplog)]
    assert reasons == (["database busy"] * 2 if status == 503 else [None, None])


async def test_internal_error_hides_internals(client, monkeypatch, caplog) -> None:
    async def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret path /srv/db and customer text")

    monkeypatch.setattr("api.routes.turns.run_turn", explode)
    with caplog.at_level(logging.INFO):
        response = await client.post(
            "/api/v1/process", json=body(request_id="req-boom"), headers=AUTH
        )
    assert_error(response, 500, "INTERNAL")
    assert "secret" not in response.text and "/srv" not in response.text
    [logged] = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert logged.__dict__["request_id"] == "req-boom"  # which request, never what it said
    assert "secret" not in caplog.text


# --- start-up, health, readiness, metrics --------------------------------------


def test_refuses_to_start_without_an_api_key(api_env, monkeypatch) -> None:
    monkeypatch.setenv("API_KEY", "")
    with pytest.raises(SettingsError, match="API_KEY"):
        create_app()
    monkeypatch.setenv("DEV_MODE", "true")
    assert create_app() is not None


async def test_health_ready_metrics(stub, client) -> None:
    health = await client.get("/health")
    assert health.json() == {"status": "ok", "model": "ministral-3:14b-instruct-2512-q8_0"}
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "db": True,
        "llm": True,
        "kb": True,
    }
    stub.push(analysis("greeting"), "Здравствуйте!")
    await client.post("/api/v1/process", json=body(), headers=AUTH)
    text = (await client.get("/metrics")).text
    for name in (
        "salesbot_turns_total",
        "salesbot_node_seconds_bucket",
        "salesbot_llm_calls_total",
        "salesbot_llm_tokens_total",
        "salesbot_guard_violations_total",
        "salesbot_errors_total",
        "salesbot_active_conversations",
    ):
        assert name in text
    assert 'salesbot_node_seconds_count{node="intent"}' in text


# --- privacy ------------------------------------------------------------------


async def test_logs_carry_neither_text_nor_phone(stub, client, caplog) -> None:
    stub.push(analysis("share_contacts"), "Спасибо, передам менеджеру.")
    secret_text = "Мой номер +7 705 111 22 33, ИИН 900101300123, Секретный магазин"
    with caplog.at_level(logging.DEBUG):
        response = await client.post(
            "/api/v1/process", json=body(secret_text, user="77051112233"), headers=AUTH
        )
    assert response.status_code == 200
    logged = "\n".join(
        f"{r.getMessage()} {json.dumps(r.__dict__, default=str, ensure_ascii=False)}"
        for r in caplog.records
    )
    assert any(r.getMessage() == "turn" for r in caplog.records)
    for secret in (
        "Секретный",
        "705 111 22 33",
        "77051112233",
        "900101300123",
        "передам менеджеру",
    ):
        assert secret not in logged


def error_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The "error response" lines as the service writes them (JSON)."""
    return [
        json.loads(JSONFormatter().format(r))
        for r in caplog.records
        if r.getMessage() == "error response"
    ]


async def test_every_error_response_is_one_log_line_without_secrets(client, caplog) -> None:
    secret_text = "Мой номер +7 705 111 22 33, ИИН 900101300123"
    phone = "77051112233"
    wrong = {"Authorization": "Bearer wrong-key-5d1e"}
    with caplog.at_level(logging.INFO):
        unauthorized = await client.post(
            "/api/v1/process", json=body(secret_text, user=phone), headers=wrong
        )
        bad = await client.post(
            "/api/v1/process", json=body(secret_text, user=phone, channel="telegram"), headers=AUTH
        )
        missing = await client.get(f"/api/v1/users/{phone}/profile", headers=AUTH)
        unknown = await client.get(f"/api/v1/users/{phone}?key={KEY}", headers=AUTH)
        method = await client.get("/api/v1/process", headers=AUTH)
    assert [r.status_code for r in (unauthorized, bad, missing, unknown, method)] == [
        401,
        400,
        404,
        404,
        405,
    ]
    lines = error_lines(caplog)
    assert [(line["status"], line["code"], line["method"], line["route"]) for line in lines] == [
        (401, "UNAUTHORIZED", "POST", "/api/v1/process"),
        (400, "BAD_REQUEST", "POST", "/api/v1/process"),
        (404, "NOT_FOUND", "GET", "/api/v1/users/{user_id}/profile"),
        (404, "NOT_FOUND", "GET", "/api/v1/users/-"),  # no route: only the API's words
        (405, "METHOD_NOT_ALLOWED", "GET", "/api/v1/process"),
    ]
    assert lines[0]["error"] == "Invalid API key"
    assert lines[1]["error"].startswith("channel:")
    assert all(line["level"] == "info" and line["duration_ms"] >= 0 for line in lines)
    # The profile's customer is named as a turn names them: by the keyed hash.
    assert lines[2]["user"] == hash_id(phone, KEY)
    logged = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    for secret in (KEY, "wrong-key-5d1e", phone, "705 111 22 33", "900101300123", "Мой номер"):
        assert secret not in logged


async def test_a_flood_of_wrong_keys_is_not_a_flood_of_log_lines(api_env, caplog) -> None:
    wrong = {"Authorization": "Bearer wrong"}
    async with serve(with_api(failed_auth_per_minute=3)) as http:
        with caplog.at_level(logging.INFO):
            statuses = [
                (await http.get("/api/v1/users/u/profile", headers=wrong)).status_code
                for _ in range(30)
            ]
    assert statuses == [401] * 3 + [429] * 27
    assert [line["status"] for line in error_lines(caplog)] == [401, 401, 401, 429]


async def test_logged_ids_are_keyed_by_the_services_secret(
    stub, api_env, monkeypatch, caplog
) -> None:
    # A phone number's hash under a salt in the code is reversed by hashing every
    # number (seconds); the tag must depend on a secret the logs do not carry.
    stub.fallback = lambda request: (
        analysis("greeting") if request.get("format") else "Здравствуйте!"
    )
    tags = []
    for number, key in enumerate((KEY, KEY, "another-key-91c2")):
        monkeypatch.setenv("API_KEY", key)
        caplog.clear()
        async with serve() as http:
            with caplog.at_level(logging.INFO):
                auth = {"Authorization": f"Bearer {key}"}
                # Another message each time: the same one again would be a retry.
                message = body(f"Здравствуйте, {number}", user="77051112233")
                await http.post("/api/v1/process", json=message, headers=auth)
        [turn] = [r for r in caplog.records if r.getMessage() == "turn"]
        tags.append(turn.__dict__["user"])
    assert tags[0] == tags[1], "one customer, one tag"
    assert tags[0] != tags[2], "the tag depends on the secret"


async def test_conversation_text_logged_only_when_switched_on(
    stub, api_env, monkeypatch, caplog
) -> None:
    monkeypatch.setenv("LOG_CONVERSATION_TEXT", "true")
    stub.push(analysis("greeting"), "Здравствуйте!")
    async with serve() as http:
        with caplog.at_level(logging.INFO):
            await http.post("/api/v1/process", json=body("Открытый текст"), headers=AUTH)
    [turn] = [r for r in caplog.records if r.getMessage() == "turn"]
    assert turn.__dict__["text"] == "Открытый текст"


# --- KB hot reload ------------------------------------------------------------


@pytest.fixture
def kb_copy(api_env, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    import shutil

    path = tmp_path / "kb"
    shutil.copytree(GRAPH_KB, path)
    monkeypatch.setenv("KB_PATH", str(path))
    return path


async def test_kb_reload_endpoint(kb_copy) -> None:
    async with serve_app() as (app, http):
        runtime = app.state.runtime
        before = runtime.kb.current.content_hash
        assert_error(await http.post("/api/v1/admin/kb/reload"), 401, "UNAUTHORIZED")

        (kb_copy / "delivery.yaml").write_text(
            "sections:\n- topic: delivery_regions\n  priority: 5\n  keywords: [доставка]\n"
            "  facts: Доставляем оборудование по всему Казахстану.\n",
            encoding="utf-8",
        )
        reloaded = await http.post("/api/v1/admin/kb/reload", headers=AUTH)
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["sections"] == 7
        assert reloaded.json()["content_hash"] != before
        hits = runtime.services.kb.current.search("доставка по Казахстану", 3)
        assert [h.topic for h in hits][:1] == ["delivery_regions"]

        (kb_copy / "broken.yaml").write_text(
            "sections:\n- topic: x\n  facts: ''\n", encoding="utf-8"
        )
        rejected = await http.post("/api/v1/admin/kb/reload", headers=AUTH)
        assert_error(rejected, 400, "BAD_REQUEST")
        assert "broken.yaml" in rejected.json()["error"]["message"]
        assert len(runtime.kb.current.sections) == 7, "the valid KB keeps serving"


async def test_sighup_reloads_the_kb(kb_copy) -> None:
    import os
    import signal

    async with serve_app() as (app, _):
        runtime = app.state.runtime
        (kb_copy / "delivery.yaml").write_text(
            "sections:\n- topic: delivery_regions\n  priority: 5\n  keywords: [доставка]\n"
            "  facts: Доставляем по Казахстану.\n",
            encoding="utf-8",
        )
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            if len(runtime.kb.current.sections) == 7:
                break
            await asyncio.sleep(0.05)
        assert len(runtime.kb.current.sections) == 7

"""The Ollama-protocol stub as a standalone server: it reports a port it cannot
take, serves no more calls at once than its GPU-like capacity allows, and its
demo mode shows the bot's real flow through the service."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from core.settings import load_settings
from tests.support import GRAPH_KB, ROOT
from tests.support.ollama_stub import DEFAULT_MODEL, OllamaStub, demo_reply
from tests.support.ollama_stub.app import asgi_app
from tests.support.ollama_stub.replies import canned_reply

KEY = "demo-key"


def test_a_taken_port_is_reported_and_nothing_claims_to_listen() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "tests.support.ollama_stub", "--port", str(port), "--demo"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "listening" not in done.stdout
    assert done.stderr.strip() == (
        f"ollama stub: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


async def four_calls_at_once(parallel: int | None, delay_s: float) -> float:
    """Seconds four concurrent chat calls take on the ASGI stub."""
    stub = OllamaStub(fallback=canned_reply, delay_s=delay_s)
    body = {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "Сколько стоит?"}]}
    transport = httpx.ASGITransport(app=asgi_app(stub, parallel))
    async with httpx.AsyncClient(transport=transport, base_url="http://stub") as http:
        started = time.perf_counter()
        responses = await asyncio.gather(*(http.post("/api/chat", json=body) for _ in range(4)))
        elapsed = time.perf_counter() - started
    assert [r.status_code for r in responses] == [200] * 4
    return elapsed


async def test_parallel_caps_the_calls_served_at_once_and_queues_the_rest() -> None:
    # Two slots for four calls of 0.3 s: two rounds, as an Ollama with
    # OLLAMA_NUM_PARALLEL=2 would take; the scaling benchmark relies on it.
    assert await four_calls_at_once(parallel=2, delay_s=0.3) >= 0.6
    # Without a cap all four wait at the same time.
    assert await four_calls_at_once(parallel=None, delay_s=0.3) < 0.6


@pytest.fixture
async def demo_service(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The real service in front of the stub in demo mode (no script at all)."""
    with OllamaStub(fallback=demo_reply) as stub:
        settings = load_settings(
            environ={
                "API_KEY": KEY,
                "OLLAMA_BASE_URL": stub.url,
                "KB_PATH": str(GRAPH_KB),
                "DB_PATH": str(tmp_path / "demo.db"),
                "KB_CACHE_DIR": str(tmp_path / "cache"),
                "LOG_LEVEL": "WARNING",
            }
        )
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=transport,
                base_url="http://demo",
                headers={"Authorization": f"Bearer {KEY}"},
            ) as http,
        ):
            yield http


async def test_demo_mode_shows_phases_kb_use_and_the_profile_filling_up(
    demo_service: httpx.AsyncClient,
) -> None:
    async def say(text: str) -> dict[str, object]:
        response = await demo_service.post(
            "/api/v1/process",
            json={"session_id": "BOT", "user_id": "demo", "message": {"text": text}},
        )
        assert response.status_code == 200, response.text
        payload: dict[str, object] = response.json()
        return payload

    first = await say("Здравствуйте, у меня продуктовый магазин в Шымкенте, 2 точки")
    price = await say("Сколько стоит тариф Standard?")
    doubt = await say("Дорого")
    ready = await say("Меня зовут Айгерим, давайте оформим")
    answers = [str(turn["answer"]) for turn in (first, price, doubt, ready)]
    metas = [turn["meta"] for turn in (first, price, doubt, ready)]
    assert [m["phase"] for m in metas] == [  # type: ignore[index]
        "qualification",
        "presentation",
        "objection_handling",
        "payment_ready",
    ]
    assert metas[1]["kb_used"] is True  # type: ignore[index]
    # The price comes from the KB facts in the prompt, not from the stub.
    assert "220 000 ₸" in answers[1]
    # The objection strategy's words and question from settings.yaml.
    assert answers[2].startswith("Понимаю, бюджет важен.")
    assert len(set(answers)) == 4
    profile = await demo_service.get("/api/v1/users/demo/profile")
    stored = profile.json()["profiles"][0]
    assert stored["business_type"] == "продуктовый магазин"
    assert (stored["city"], stored["stores_count"]) == ("Шымкент", 2)
    assert stored["contact_name"] == "Айгерим"
    assert stored["outcome"] == "payment_ready"

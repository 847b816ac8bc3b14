"""Shared fixtures: an Ollama-protocol stub, settings pointing at it and at a
small test KB, and a compiled graph with a SQLite checkpointer in a temp dir."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from core.settings import Settings, load_settings
from graph.builder import SalesGraph, compile_graph
from graph.context import Services, build_services
from graph.memory import open_checkpointer
from tests.support import GRAPH_KB
from tests.support.ollama_stub import OllamaStub


@pytest.fixture
def stub() -> Iterator[OllamaStub]:
    with OllamaStub() as server:
        yield server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stub: OllamaStub) -> Path:
    """Environment of a test service: the stub as Ollama, the test KB, a temp DB."""
    for name in list(os.environ):
        if name.startswith("FF_"):
            monkeypatch.delenv(name)
    # Lexical ranking: a dense index switched in by a background build would
    # change the facts mid-test (tests of the switch turn it on themselves).
    monkeypatch.setenv("FF_dense_retrieval", "false")
    monkeypatch.setenv("OLLAMA_BASE_URL", stub.url)
    monkeypatch.setenv("KB_PATH", str(GRAPH_KB))
    monkeypatch.setenv("DB_PATH", str(tmp_path / "db" / "conversations.db"))
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "kb-cache"))
    monkeypatch.delenv("OLLAMA_MODEL", raising=False)
    return tmp_path


@pytest.fixture
def settings(env: Path) -> Settings:
    return load_settings()


@pytest.fixture
def services(settings: Settings) -> Services:
    return build_services(settings)


@pytest.fixture
async def graph(settings: Settings) -> AsyncIterator[SalesGraph]:
    async with open_checkpointer(settings.env.db_path) as saver:
        yield compile_graph(saver)

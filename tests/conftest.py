"""Shared fixtures: an Ollama-protocol stub, settings pointing at it and at a
small test KB, and a compiled graph with a SQLite checkpointer in a temp dir."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SHARED = ROOT.parent / "shared"
GRAPH_KB = TESTS / "fixtures" / "graph_kb"

sys.path.insert(0, str(TESTS))

from ollama_stub import OllamaStub  # noqa: E402


def analysis(intent: str = "product_question", **fields: Any) -> str:
    """A well-formed analysis reply, as the model would send it."""
    body: dict[str, Any] = {
        "intent": intent,
        "objection_type": None,
        "profile": {},
        "search_query": "",
        "next_phase": "discovery",
        "frustrated": False,
    }
    body.update(fields)
    return json.dumps(body, ensure_ascii=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(
    url: str, proc: subprocess.Popen[bytes], timeout_s: float = 90, health_path: str = "/ok"
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}{health_path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{proc.args} did not come up")


@pytest.fixture
def stub() -> Iterator[OllamaStub]:
    with OllamaStub() as server:
        yield server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stub: OllamaStub) -> Path:
    """Environment of a test service: the stub as Ollama, the test KB, a temp DB."""
    for name in list(__import__("os").environ):
        if name.startswith("FF_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OLLAMA_BASE_URL", stub.url)
    monkeypatch.setenv("KB_PATH", str(GRAPH_KB))
    monkeypatch.setenv("DB_PATH", str(tmp_path / "db" / "conversations.db"))
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "kb-cache"))
    monkeypatch.delenv("OLLAMA_MODEL", raising=False)
    return tmp_path


@pytest.fixture
def settings(env: Path):  # type: ignore[no-untyped-def]
    from graph.settings import load_settings

    return load_settings()


@pytest.fixture
def services(settings):  # type: ignore[no-untyped-def]
    from graph.context import build_services

    return build_services(settings)


@pytest.fixture
async def graph(settings) -> AsyncIterator[Any]:  # type: ignore[no-untyped-def]
    from graph.builder import compile_graph
    from graph.memory import open_checkpointer

    async with open_checkpointer(settings.env.db_path) as saver:
        yield compile_graph(saver)

"""`salesbot serve --workers 2` on PostgreSQL: two uvicorn worker processes on
one port, each of them answering /ready (the other is held with SIGSTOP while one
is asked)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port, stop, wait_until_up
from tests.support.ollama_stub import OllamaStub, canned_reply
from tests.support.postgres import BotPostgres, start_or_skip

SALESBOT = Path(sys.executable).with_name("salesbot")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    server: BotPostgres = start_or_skip()
    url = server.fresh_database()
    try:
        yield url
    finally:
        server.drop(url)
        server.stop()


def _workers(pid: int, count: int, timeout_s: float = 60) -> list[int]:
    """The supervisor's `count` worker processes (its multiprocessing children
    but the resource tracker), once all of them are there."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        workers = [
            int(child)
            for child in children
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
        ]
        if len(workers) == count:
            return workers
        time.sleep(0.2)
    raise TimeoutError(f"no {count} workers under {pid}")


def _ready_from(url: str, pid: int, others: list[int]) -> int:
    """/ready's status with every worker but `pid` stopped (they keep the socket
    but accept nothing, so `pid` answers)."""
    for other in others:
        os.kill(other, signal.SIGSTOP)
    try:
        return httpx.get(f"{url}/ready", timeout=10).status_code
    finally:
        for other in others:
            os.kill(other, signal.SIGCONT)


def test_two_workers_on_postgres_both_serve(tmp_path: Path, database_url: str) -> None:
    with OllamaStub(fallback=canned_reply) as stub:
        port = free_port()
        env = {
            **os.environ,
            "API_KEY": "workers-key",
            "OLLAMA_BASE_URL": stub.url,
            "DATABASE_URL": database_url,
            "DB_PATH": str(tmp_path / "unused.db"),
            "PORT": str(port),
        }
        env.pop("KB_PATH", None)
        log = (tmp_path / "serve.log").open("wb")
        proc = subprocess.Popen(
            [str(SALESBOT), "serve", "--workers", "2"], env=env, stdout=log, stderr=log
        )
        url = f"http://127.0.0.1:{port}"
        try:
            # Two processes load the KB at once on a shared machine.
            wait_until_up(url, proc, timeout_s=240, health_path="/health")
            workers = _workers(proc.pid, 2)
            for pid in workers:
                wait_until_up(url, proc, health_path="/health")  # a restarted worker
                others = [other for other in workers if other != pid]
                assert _ready_from(url, pid, others) == 200, pid
            assert proc.poll() is None
        finally:
            stop(proc)
            log.close()

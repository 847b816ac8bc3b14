"""Slow and idle clients cannot starve `salesbot serve` of file descriptors: a
connection whose request headers are late is closed, and so is one beyond the
connection cap."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support import ROOT
from tests.support.net import free_port, stop, wait_until_up

SALESBOT = Path(sys.executable).with_name("salesbot")
FD_LIMIT = 256
pytestmark = pytest.mark.slow


def _low_fd_limit() -> None:
    # The server's descriptors, soft and hard alike: it cannot raise them.
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[str]:
    settings = yaml.safe_load((ROOT / "settings.yaml").read_text(encoding="utf-8"))
    settings["api"]["server"]["header_timeout_s"] = 1
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "API_KEY": "slow-key",
        "OLLAMA_BASE_URL": "http://127.0.0.1:9",
        "DB_PATH": str(tmp_path / "slow.db"),
        "KB_CACHE_DIR": str(tmp_path / "cache"),
        "SETTINGS_PATH": str(path),
        "PORT": str(port),
    }
    env.pop("KB_PATH", None)
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(SALESBOT), "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_low_fd_limit,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, health_path="/health")
        yield url
    finally:
        stop(proc)
        log.close()


def test_half_sent_requests_are_cut_off_and_health_stays_up(service: str) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * FD_LIMIT:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * FD_LIMIT), hard))
    port = int(service.rsplit(":", 1)[1])
    idle = []
    try:
        for _ in range(FD_LIMIT + 50):  # more than the server has descriptors
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"POST /api/v1/process HTTP/1.1\r\nHost: bot\r\n")  # and no more
            idle.append(sock)
        time.sleep(1.5)  # past the header timeout
        assert httpx.get(f"{service}/health", timeout=5).status_code == 200
        deadline = time.monotonic() + 5
        closed = 0
        for sock in idle:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                closed += sock.recv(1) == b""
            except ConnectionResetError:
                closed += 1
        assert closed == len(idle), "every half-sent request was closed by the server"
    finally:
        for sock in idle:
            sock.close()


def test_the_unit_raises_the_descriptor_limit() -> None:
    unit = (ROOT / "deploy" / "crm-sales-bot.service").read_text(encoding="utf-8")
    assert "LimitNOFILE=65536" in unit

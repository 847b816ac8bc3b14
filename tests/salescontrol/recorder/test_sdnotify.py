"""sd_notify over a real unix datagram socket, and the agent as systemd runs it:
`python -m salescontrol.recorder --config FILE` says READY=1, pings WATCHDOG=1
from its main loop, serves /health, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from salescontrol.recorder.sdnotify import Notifier
from tests.salescontrol.recorder.conftest import SINE, needs_ffmpeg
from tests.support import ROOT
from tests.support.net import free_port, stop
from tests.support.recorder import ChunkServer


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    # A short path: a unix socket's address is limited to 107 bytes.
    folder = tempfile.mkdtemp(prefix="sdn-", dir="/tmp")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    yield sock, path
    sock.close()
    os.unlink(path)
    os.rmdir(folder)


def drain(sock: socket.socket, until: float) -> list[str]:
    messages = []
    while time.monotonic() < until:
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return messages


def test_the_notifier_speaks_the_datagram_protocol(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000"})
    notifier.ready("recording")
    notifier.watchdog()
    notifier.watchdog()  # within a third of the interval: not sent again
    notifier.stopping()
    assert drain(sock, time.monotonic() + 0.5) == [
        "READY=1\nSTATUS=recording", "WATCHDOG=1", "STOPPING=1",
    ]  # fmt: skip


def test_an_abstract_socket_address_is_understood() -> None:
    name = f"salescontrol-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).send("READY=1")
        assert sock.recv(100) == b"READY=1"


def test_outside_systemd_nothing_is_sent() -> None:
    assert not Notifier({}).send("READY=1")
    # A watchdog meant for another process (WATCHDOG_PID) is not ours to ping.
    assert Notifier({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}).watchdog_s is None


@needs_ffmpeg
@pytest.mark.slow
def test_the_agent_process_is_ready_pings_the_watchdog_and_stops_cleanly(
    notify_socket: tuple[socket.socket, str], tmp_path: Path
) -> None:
    sock, path = notify_socket
    health_port = free_port()
    with ChunkServer() as server:
        settings = {
            "server": {"url": server.url, "token": server.token},
            "recording": {"source": SINE, "chunk_s": 2},
            "spool": {"dir": str(tmp_path / "spool"), "min_free_bytes": 0},
            "health": {"port": health_port},
        }
        config = tmp_path / "recorder.yaml"
        config.write_text(yaml.safe_dump(settings))
        env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1500000"}
        env.pop("WATCHDOG_PID", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "salescontrol.recorder", "--config", str(config)],
            cwd=ROOT, env=env, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            messages = drain(sock, time.monotonic() + 4)
            assert any(m.startswith("READY=1") for m in messages), messages
            assert messages.count("WATCHDOG=1") >= 3  # every 0.5 s, from the main loop
            deadline = time.monotonic() + 10
            while True:
                health = httpx.get(f"http://127.0.0.1:{health_port}/health", timeout=2).json()
                if health["state"] == "recording" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert health["state"] == "recording"
            proc.terminate()
            assert proc.wait(timeout=30) == 0
            assert "STOPPING=1" in drain(sock, time.monotonic() + 0.5)
        finally:
            stop(proc)
    assert proc.stderr is not None
    lines = proc.stderr.read().decode().splitlines()
    events = [json.loads(line)["event"] for line in lines]  # JSON logs only
    assert "recorder started" in events and "recorder stopped" in events
    assert server.token not in "\n".join(lines)

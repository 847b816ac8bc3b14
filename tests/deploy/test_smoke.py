"""The runbook's section-10 checks (deploy/smoke.sh) against the real service
process — `salesbot serve` under uvicorn — with the Ollama stub in place of
Ollama, as the sysadmin would run them after a deployment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.net import free_port, stop, wait_until_up
from tests.support.ollama_stub import OllamaStub, canned_reply

SALESBOT = Path(sys.executable).with_name("salesbot")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("curl") is None, reason="deploy/smoke.sh needs curl"),
]


def test_smoke_script_passes_against_the_running_service(tmp_path: Path) -> None:
    with OllamaStub(fallback=canned_reply) as stub:
        port = free_port()
        env = {
            **os.environ,
            "API_KEY": "smoke-key",
            "OLLAMA_BASE_URL": stub.url,
            "DB_PATH": str(tmp_path / "smoke.db"),
            "PORT": str(port),
        }
        env.pop("KB_PATH", None)
        log = (tmp_path / "serve.log").open("wb")
        proc = subprocess.Popen(
            [str(SALESBOT), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, proc, health_path="/health")
            smoke = subprocess.run(
                ["bash", str(ROOT / "deploy" / "smoke.sh"), url, "smoke-key"],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert smoke.returncode == 0, smoke.stdout + smoke.stderr
            assert "all smoke checks passed" in smoke.stdout

            wrong = subprocess.run(
                ["bash", str(ROOT / "deploy" / "smoke.sh"), url, "not-the-key"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert wrong.returncode != 0
        finally:
            stop(proc)
            log.close()


def test_kill_9_never_loses_an_answered_turn(tmp_path: Path) -> None:
    """The checkpoint is on disk when the answer leaves: after kill -9 and a restart
    the next message continues the conversation."""
    import signal

    import httpx

    db = tmp_path / "crash.db"
    headers = {"Authorization": "Bearer crash-key"}

    def start(stub_url: str, port: int, log_name: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "API_KEY": "crash-key",
            "OLLAMA_BASE_URL": stub_url,
            "DB_PATH": str(db),
            "PORT": str(port),
        }
        env.pop("KB_PATH", None)
        log = (tmp_path / log_name).open("wb")
        return subprocess.Popen([str(SALESBOT), "serve"], env=env, stdout=log, stderr=log)

    def message(text: str) -> dict[str, object]:
        return {"session_id": "BOT", "user_id": "crash-user", "message": {"text": text}}

    with OllamaStub(fallback=canned_reply) as stub:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start(stub.url, port, "first.log")
        try:
            wait_until_up(url, proc, health_path="/health")
            for i in range(3):
                answered = httpx.post(
                    f"{url}/api/v1/process", json=message(f"m{i}"), headers=headers
                )
                assert answered.status_code == 200
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)

        proc = start(stub.url, port, "second.log")
        try:
            wait_until_up(url, proc, health_path="/health")
            after = httpx.post(f"{url}/api/v1/process", json=message("после сбоя"), headers=headers)
            assert after.status_code == 200
            assert after.json()["meta"]["turn"] == 4
        finally:
            stop(proc)

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
from test_studio import free_port, wait_until_up

from conftest import ROOT
from ollama_stub import OllamaStub, canned_reply

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
            proc.terminate()
            proc.wait(timeout=15)
            log.close()

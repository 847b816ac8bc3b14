"""The ingest API as a real process (`salescontrol serve`), for the tests that kill
it, stop it for a while or talk to it from a recorder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import select

from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import AudioChunk
from tests.salescontrol.ingest.service import ADMIN_LOGIN, ADMIN_PASSWORD
from tests.support.net import free_port, stop, wait_until_up


class IngestProcess:
    def __init__(self, database_url: str, audio_dir: Path, log: Path, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SALESCONTROL_AUDIO_DIR": str(audio_dir),
            "SALESCONTROL_PORT": str(self.port),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "salescontrol", "serve"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until_up(self.url, self.proc, timeout_s=60, health_path="/ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)


def register_devices(url: str, count: int, timezone: str = "Asia/Almaty") -> list[str]:
    """`count` devices on one new point's register, registered by the test admin
    (ADMIN_LOGIN must exist); their tokens."""
    with httpx.Client(base_url=url, timeout=30) as http:
        login = http.post(
            "/api/v1/auth/login", json={"login": ADMIN_LOGIN, "password": ADMIN_PASSWORD}
        )
        login.raise_for_status()
        admin = {"Authorization": f"Bearer {login.json()['token']}"}
        point = http.post(
            "/api/v1/admin/points",
            json={"organisation": "Кофейня", "name": "Центр", "timezone": timezone},
            headers=admin,
        )
        point.raise_for_status()
        register = http.post(
            f"/api/v1/admin/points/{point.json()['id']}/registers",
            json={"name": "Касса 1"},
            headers=admin,
        )
        register.raise_for_status()
        tokens = []
        for i in range(count):
            device = http.post(
                "/api/v1/admin/devices",
                json={"register_id": register.json()["id"], "name": f"pi-{i + 1}"},
                headers=admin,
            )
            device.raise_for_status()
            tokens.append(device.json()["token"])
        return tokens


async def stored_chunks(database_url: str) -> list[AudioChunk]:
    """Every chunk the server has stored, by start, read from its database."""
    engine = make_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as session:
            return list(await session.scalars(select(AudioChunk).order_by(AudioChunk.started_at)))
    finally:
        await engine.dispose()

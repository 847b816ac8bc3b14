"""The ingest API under test: its app on a fresh database behind an in-process HTTP
client, an admin, and a registered device to upload with."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from core.settings import Settings, load_settings
from salescontrol.accounts import AccountError, add_user
from salescontrol.ingest.app import create_app
from salescontrol.ingest.runtime import Runtime

ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "correct horse battery"
INTERNAL_TOKEN = "internal-token-5d1e"


def settings_for(database_url: str, audio_dir: Path, **env: str) -> Settings:
    return load_settings(
        environ={
            "DATABASE_URL": database_url,
            "SALESCONTROL_AUDIO_DIR": str(audio_dir),
            **env,
        }
    )


@dataclass
class Ingest:
    """The running app and what a test needs to talk to it."""

    app: FastAPI
    http: httpx.AsyncClient
    admin: dict[str, str]
    """The admin's Authorization header."""

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def audio_dir(self) -> Path:
        return self.runtime.store.root

    async def login(self, login: str, password: str) -> httpx.Response:
        return await self.http.post(
            "/api/v1/auth/login", json={"login": login, "password": password}
        )

    async def device(self, timezone: str = "Asia/Almaty", name: str = "pi-1") -> Device:
        """A new point (in `timezone`) with a register and a device on it."""
        point = await self.http.post(
            "/api/v1/admin/points",
            json={"organisation": "Кофейня", "name": f"Точка {uuid.uuid4().hex[:6]}",
                  "timezone": timezone},
            headers=self.admin,
        )  # fmt: skip
        assert point.status_code == 201, point.text
        register = await self.http.post(
            f"/api/v1/admin/points/{point.json()['id']}/registers",
            json={"name": "Касса 1"},
            headers=self.admin,
        )
        assert register.status_code == 201, register.text
        created = await self.http.post(
            "/api/v1/admin/devices",
            json={"register_id": register.json()["id"], "name": name},
            headers=self.admin,
        )
        assert created.status_code == 201, created.text
        body = created.json()
        return Device(self.http, body["id"], body["token"])


@dataclass
class Device:
    http: httpx.AsyncClient
    id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def upload(
        self,
        chunk_id: uuid.UUID,
        started_at: datetime | str,
        body: bytes,
        *,
        sha256: str | None = "auto",
        **headers: str,
    ) -> httpx.Response:
        start = started_at if isinstance(started_at, str) else started_at.isoformat()
        sent: dict[str, Any] = {**self.auth, "X-Chunk-Start": start, **headers}
        if sha256 == "auto":
            sent["X-Chunk-Sha256"] = hashlib.sha256(body).hexdigest()
        elif sha256 is not None:
            sent["X-Chunk-Sha256"] = sha256
        return await self.http.put(
            f"/api/v1/devices/me/chunks/{chunk_id}", content=body, headers=sent
        )


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[Ingest]:
    """The app with its lifespan on `settings`' database, an admin logged in."""
    url = settings.env.database_url
    assert url
    with contextlib.suppress(AccountError):  # made by an earlier start
        await add_user(url, ADMIN_LOGIN, ADMIN_PASSWORD, "admin")
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://ingest") as http,
    ):
        ingest = Ingest(app, http, {})
        login = await ingest.login(ADMIN_LOGIN, ADMIN_PASSWORD)
        assert login.status_code == 200, login.text
        ingest.admin = {"Authorization": f"Bearer {login.json()['token']}"}
        http.cookies.clear()  # each test says how it authenticates
        yield ingest

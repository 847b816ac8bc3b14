"""The whole agent in-process: recording hours start and stop ffmpeg while the
uploads go on; the health endpoint and the heartbeat carry the documented JSON."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from salescontrol.recorder.agent import Agent
from salescontrol.recorder.config import Config
from salescontrol.recorder.spool import Spool
from salescontrol.recorder.times import rfc3339
from tests.salescontrol.recorder.conftest import eventually, needs_ffmpeg
from tests.support.recorder import HEARTBEAT_PATH, ChunkServer, queue_chunks

pytestmark = needs_ffmpeg

SHOP_HOURS = {"hours": {"start": "08:00", "end": "22:00"}, "timezone": "Asia/Almaty"}
OPEN = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)  # 10:00 in Almaty
CLOSED = datetime(2026, 12, 4, 18, 30, tzinfo=UTC)  # 23:30 in Almaty

HEALTH_KEYS = {
    "state", "reason", "recording", "queue", "oldest_queued_at", "failed", "last_upload_at",
    "last_attempt_at", "last_upload_status", "uploaded", "chunks_recorded", "last_chunk_start",
    "errors", "disk_free_bytes", "spool_bytes", "ffmpeg_restarts", "ffmpeg_pid", "version",
    "started_at", "now",
}  # fmt: skip
HEARTBEAT_TYPES: dict[str, Any] = {
    "recording": bool, "reason": (str, type(None)), "queue": int,
    "oldest_queued_at": (str, type(None)), "last_upload_at": (str, type(None)), "failed": int,
    "errors": list, "disk_free_bytes": int, "spool_bytes": int, "version": str,
}  # fmt: skip


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def running(agent: Agent) -> AsyncIterator[Agent]:
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        agent.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)
    assert task.result() == 0


async def get_health(config: Config, path: str = "/health") -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://127.0.0.1:{config.health.port}{path}")


@pytest.mark.slow
async def test_outside_hours_ffmpeg_stops_and_the_uploads_go_on(
    config_for: Callable[..., Config], server: ChunkServer
) -> None:
    config = config_for(recording=SHOP_HOURS)
    clock = Clock(OPEN)
    agent = Agent(config, now=clock, tick_s=0.1, janitor_every_s=0.2)
    async with running(agent):
        await eventually(lambda: agent.status.health()["chunks_recorded"] >= 1, 10, "a chunk")
        clock.now = CLOSED
        await eventually(lambda: agent.capture.proc is None, 10, "ffmpeg to stop")
        health = agent.status.health()
        assert (health["state"], health["reason"], health["recording"]) == (
            "idle", "outside hours", False,
        )  # fmt: skip
        # The segment cut short by closing time became a chunk, and went up.
        recorded = health["chunks_recorded"]
        await eventually(lambda: len(server.stored) == recorded, 10, "the last upload")
        assert list(agent.spool.recording.iterdir()) == []
        clock.now = OPEN
        await eventually(lambda: agent.status.state() == "recording", 10, "recording again")
        assert agent.status.health()["ffmpeg_restarts"] == 0  # stopped on purpose


async def test_health_returns_the_documented_json(
    config_for: Callable[..., Config], server: ChunkServer, tmp_path: Path
) -> None:
    config = config_for(recording=SHOP_HOURS)
    first = datetime(2026, 12, 4, 3, 0, 0, 250000, tzinfo=UTC)
    queue_chunks(Spool(config.spool.dir), 2, 2, first, tmp_path / "made")
    server.down()
    agent = Agent(config, now=Clock(CLOSED), tick_s=0.1, janitor_every_s=0.2)
    async with running(agent):
        await eventually(lambda: agent.status.health()["errors"], 10, "a failed upload")
        answer = await get_health(config)
        assert (await get_health(config, "/nope")).status_code == 404
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    health = answer.json()
    assert set(health) == HEALTH_KEYS
    assert (health["state"], health["reason"], health["recording"]) == (
        "idle", "outside hours", False,
    )  # fmt: skip
    assert health["queue"] == 2
    assert health["oldest_queued_at"] == rfc3339(first) == "2026-12-04T03:00:00.250000+00:00"
    assert health["failed"] == 0 and health["last_upload_at"] is None
    assert health["last_upload_status"] == "ConnectError"
    assert "upload of chunk 0: ConnectError" in health["errors"][-1]
    assert health["disk_free_bytes"] > 0
    folders = ("recording", "outbox", "sent", "failed")
    assert health["spool_bytes"] == sum(
        p.stat().st_size for f in folders for p in (config.spool.dir / f).iterdir()
    )
    assert health["ffmpeg_restarts"] == 0 and health["ffmpeg_pid"] is None


async def test_the_heartbeat_posts_the_documented_body_and_survives_failures(
    config_for: Callable[..., Config], server: ChunkServer
) -> None:
    config = config_for(recording=SHOP_HOURS, heartbeat_s=0.2)
    agent = Agent(config, now=Clock(CLOSED), tick_s=0.1, janitor_every_s=0.2)
    async with running(agent):
        await eventually(lambda: len(server.heartbeats) >= 2, 10, "two heartbeats")
        server.down()
        await eventually(
            lambda: any("heartbeat: ConnectError" in e for e in agent.status.health()["errors"]),
            10,
            "a failed heartbeat",
        )
        seen = len(server.heartbeats)
        server.up()
        await eventually(lambda: len(server.heartbeats) > seen, 10, "heartbeats again")
    body = server.heartbeats[-1]
    assert set(body) == set(HEARTBEAT_TYPES)
    for key, kind in HEARTBEAT_TYPES.items():
        assert isinstance(body[key], kind), key
    assert (body["recording"], body["reason"]) == (False, "outside hours")
    assert any("heartbeat: ConnectError" in e for e in body["errors"])  # reported later
    posts = [s for s in server.seen if s.method == "POST"]
    assert all(s.status == 204 for s in posts)
    assert posts[0].headers["Authorization"] == f"Bearer {server.token}"
    assert HEARTBEAT_PATH == "/api/v1/devices/me/heartbeat"

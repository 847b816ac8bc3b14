"""The ingest API killed with SIGKILL in the middle of many uploads: after it starts
again there is no file without its row, no row without its whole file, no chunk
half stored, every chunk it confirmed is there, and the devices' retries store
the rest exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from salescontrol.accounts import add_user
from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import AudioChunk, Job
from tests.salescontrol.audio import AudioFactory
from tests.salescontrol.ingest.service import ADMIN_LOGIN, ADMIN_PASSWORD
from tests.salescontrol.server import IngestProcess, register_devices

pytestmark = pytest.mark.slow

DEVICES = 6
START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class Uploader:
    """One device sending its chunks one after another until the server dies."""

    def __init__(self, url: str, token: str, body: bytes):
        self.url, self.body = url, body
        self.headers = {
            "Authorization": f"Bearer {token}",
            "X-Chunk-Sha256": hashlib.sha256(body).hexdigest(),
        }
        self.sent: list[tuple[uuid.UUID, datetime]] = []
        self.confirmed: set[uuid.UUID] = set()

    def put(self, http: httpx.Client, chunk: uuid.UUID, start: datetime) -> int:
        response = http.put(
            f"/api/v1/devices/me/chunks/{chunk}",
            content=self.body,
            headers={**self.headers, "X-Chunk-Start": start.isoformat()},
        )
        return response.status_code

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while True:
                chunk = uuid.uuid4()
                start = START + timedelta(minutes=len(self.sent))
                self.sent.append((chunk, start))
                try:
                    status = self.put(http, chunk, start)
                except httpx.HTTPError:
                    return
                if status == 201:
                    self.confirmed.add(chunk)


async def check_consistent(database_url: str, audio_dir: Path) -> dict[uuid.UUID, AudioChunk]:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as db:
            chunks = list(await db.scalars(select(AudioChunk)))
            jobs = list(await db.scalars(select(Job.subject_id)))
    finally:
        await engine.dispose()
    assert [c for c in chunks if c.state != "stored"] == []
    assert sorted(jobs) == sorted(c.id for c in chunks)  # one job per chunk
    files = {p for p in audio_dir.rglob("*") if p.is_file() and ".incoming" not in p.parts}
    assert files == {audio_dir / c.path for c in chunks}  # no orphan, none missing
    for c in chunks:
        data = (audio_dir / c.path).read_bytes()
        assert len(data) == c.size_bytes and hashlib.sha256(data).hexdigest() == c.sha256
    assert list((audio_dir / ".incoming").iterdir()) == []
    return {c.client_id: c for c in chunks}


async def test_sigkill_during_uploads_leaves_nothing_half_done(
    database_url: str, tmp_path: Path, audio: AudioFactory
) -> None:
    await add_user(database_url, ADMIN_LOGIN, ADMIN_PASSWORD, "admin")
    audio_dir = tmp_path / "audio"
    server = IngestProcess(database_url, audio_dir, tmp_path / "ingest.log")
    body = audio.opus(seconds=20)
    try:
        await asyncio.to_thread(server.start)
        tokens = await asyncio.to_thread(register_devices, server.url, DEVICES)
        uploaders = [Uploader(server.url, token, body) for token in tokens]
        for kill in range(3):
            threads = [u.start() for u in uploaders]
            await asyncio.sleep(1.5 + kill * 0.37)  # mid-stream, at different moments
            server.kill()
            for thread in threads:
                thread.join(timeout=15)
            await asyncio.to_thread(server.start)

            stored = await check_consistent(database_url, audio_dir)
            confirmed = set().union(*(u.confirmed for u in uploaders))
            assert confirmed <= set(stored)  # a 201 is a promise
        assert len(stored) >= 10, "too few uploads before the kills to prove anything"

        # The devices send again what they never got an answer for (and, to be
        # sure, what they did): everything ends stored exactly once.
        def resend() -> list[int]:
            statuses = []
            with httpx.Client(base_url=server.url, timeout=30) as http:
                for u in uploaders:
                    for chunk, start in u.sent:
                        statuses.append(u.put(http, chunk, start))
            return statuses

        statuses = await asyncio.to_thread(resend)
        assert set(statuses) <= {200, 201}
        final = await check_consistent(database_url, audio_dir)
        sent = {chunk for u in uploaders for chunk, _ in u.sent}
        assert set(final) == sent
        assert statuses.count(201) == len(sent) - len(stored)
    finally:
        server.stop()

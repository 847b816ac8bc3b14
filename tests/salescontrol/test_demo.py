"""`salescontrol demo`: the synthesized shop day loaded into a real PostgreSQL as the
dashboard's demo data — every chunk its own file, every closed dialogue
transcribed and judged once with quotes from its transcript, one device silent;
loaded again it adds nothing, a day later only the new day; `--if-empty` leaves a
loaded database alone."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from core.settings import load_settings
from salescontrol import jobs
from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import (
    Analysis,
    AudioChunk,
    Device,
    Dialogue,
    Job,
    Point,
    Register,
    Review,
    Transcript,
    User,
)
from salescontrol.demo import load_demo
from salescontrol.demo.plan import DEVICES, SILENT_FOR, schedule
from salescontrol.demo.source import load_source_day
from salescontrol.pipeline.messages import ASR
from salescontrol.security import password_matches
from tests.salescontrol.pg import Cluster
from tests.salescontrol.pipeline.fleet import make_fleet
from tests.support import SHARED
from tests.support.shopday import missing_tools

pytestmark = pytest.mark.slow

SCRIPT = SHARED / "salescontrol" / "dialogues_dev.yaml"
# A Saturday afternoon in Almaty: today's morning sessions are over, the evening's not.
NOW = datetime(2026, 3, 14, 15, 30, tzinfo=ZoneInfo("Asia/Almaty"))
TABLES = (
    "organisations", "points", "registers", "devices", "audio_chunks", "jobs",
    "speech_segments", "dialogues", "transcripts", "analyses", "reviews", "users",
)  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _can_synthesize() -> None:
    if not SCRIPT.is_file():
        pytest.skip(f"{SCRIPT} is not here (../shared sits beside the checkout)")
    if missing := missing_tools():
        pytest.skip(f"cannot synthesize speech without {', '.join(missing)}")


@pytest.fixture
def audio_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: another pytest session prunes old basetemps.
    path = Path(tempfile.mkdtemp(prefix="salescontrol-test-demo-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url, pool_size=1)
    try:
        async with session_factory(engine)() as db:
            return {t: int(await db.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in TABLES}
    finally:
        await engine.dispose()


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.opus"))


async def _check_loaded(url: str, audio_dir: Path, now: datetime) -> None:
    """What the dashboard relies on, whatever the day."""
    engine = make_engine(url, pool_size=1)
    try:
        async with session_factory(engine)() as db:
            assert await db.scalar(select(func.count()).select_from(Point)) == 2
            assert await db.scalar(select(func.count()).select_from(Register)) == 3
            devices = {d.name: d for d in await db.scalars(select(Device))}
            assert set(devices) == {spec.device for spec in DEVICES}

            for chunk in await db.scalars(select(AudioChunk)):
                assert chunk.state == "processed"
                data = (audio_dir / chunk.path).read_bytes()
                assert hashlib.sha256(data).hexdigest() == chunk.sha256
                assert len(data) == chunk.size_bytes

            assert await db.scalar(select(func.count()).where(Dialogue.state == "open")) == 0
            dialogues = list(await db.scalars(select(Dialogue)))
            transcripts = {t.dialogue_id: t for t in await db.scalars(select(Transcript))}
            analyses: dict[Any, list[Analysis]] = {}
            for a in await db.scalars(select(Analysis)):
                analyses.setdefault(a.dialogue_id, []).append(a)
            judged = 0
            for dialogue in dialogues:
                transcript = transcripts[dialogue.id]
                assert transcript.model == "script" and transcript.text
                for segment in transcript.segments:
                    assert 0 <= segment["start_s"] < segment["end_s"]
                    assert segment["text"] in transcript.text
                [current] = [a for a in analyses[dialogue.id] if a.current]
                assert current.model == "demo" and current.prompt_version == "demo"
                for quote in current.evidence:
                    assert quote in transcript.text
                if current.status == "done":
                    judged += 1
                    assert current.summary and current.confidence is not None
                    if current.attempted == "yes":
                        assert current.evidence and current.closing_question
            assert judged >= 0.9 * len(dialogues)
            assert sum(len(runs) > 1 for runs in analyses.values()) >= 2

            reviews = list(await db.scalars(select(Review)))
            assert sorted(r.status for r in reviews) == ["open", "resolved"]
            resolved = next(r for r in reviews if r.status == "resolved")
            assert resolved.corrections and resolved.resolved_by is not None

            silent = devices["demo-esentai-1"]
            assert silent.last_seen_at is not None
            assert now - silent.last_seen_at >= SILENT_FOR - timedelta(minutes=1)
            online = devices["demo-abaya-1"]
            assert online.last_seen_at is not None and now - online.last_seen_at < timedelta(
                minutes=5
            )
            assert online.last_health and online.last_health["recording"] is True
    finally:
        await engine.dispose()


async def test_the_demo_loads_once_and_tops_up_a_later_day(
    cluster: Cluster, audio_dir: Path
) -> None:
    url = await cluster.fresh_database()
    try:
        settings = load_settings()
        report = await load_demo(url, audio_dir, settings, days=3, now=NOW)
        day = load_source_day()
        settle = timedelta(seconds=settings.salescontrol.speech.dialogues.idle_close_s + 60)
        slots = schedule(day, NOW, 3, settle)
        expected = sum(s.last - s.first + 1 for s in slots)
        assert report.chunks_added == expected == report.totals["chunks"]
        spoken = sum(1 for s in slots for d in day.dialogues if s.first <= d.chunks[0] <= s.last)
        assert report.totals["dialogues"] == spoken  # the cutter finds every scripted one
        assert report.totals["transcripts"] == report.totals["analyses"] == spoken
        assert report.reviews_added == 2 and set(report.passwords) == {"admin", "viewer"}
        await _check_loaded(url, audio_dir, NOW)

        before, files = await _counts(url), _files(audio_dir)
        again = await load_demo(url, audio_dir, settings, days=3, now=NOW)
        assert again.chunks_added == 0 and again.reviews_added == 0
        assert await _counts(url) == before and _files(audio_dir) == files

        tomorrow = NOW + timedelta(days=1)
        later = await load_demo(url, audio_dir, settings, days=3, now=tomorrow)
        last_end = {s.device: s.end for s in slots}
        planned = schedule(day, tomorrow, 3, settle)
        new = [s for s in planned if s.start >= last_end.get(s.device, s.start)]
        assert new and later.chunks_added == sum(s.last - s.first + 1 for s in new)
        assert later.totals["chunks"] == expected + later.chunks_added
        await _check_loaded(url, audio_dir, tomorrow)
    finally:
        await cluster.drop(url)


async def test_the_demo_leaves_other_dialogues_to_the_real_workers(
    cluster: Cluster, audio_dir: Path
) -> None:
    url = await cluster.fresh_database()
    engine = make_engine(url, pool_size=2)
    sessions = session_factory(engine)
    try:
        fleet = await make_fleet(sessions)
        settings = load_settings()
        async with sessions() as db, db.begin():
            start = NOW - timedelta(days=1)
            other = Dialogue(device_id=fleet.device_id, register_id=await db.scalar(
                select(Device.register_id).where(Device.id == fleet.device_id)),
                point_id=fleet.point_id, started_at=start, ended_at=start + timedelta(seconds=20),
                state="closed", closed_reason="silence", speech_s=15)  # fmt: skip
            db.add(other)
            await db.flush()
            await jobs.enqueue(db, ASR, other.id, settings.salescontrol.jobs)
        report = await load_demo(url, audio_dir, settings, days=1, now=NOW)
        assert report.totals["transcripts"] > 0
        async with sessions() as db:
            job = await db.scalar(select(Job).where(Job.subject_id == other.id))
            assert job is not None and job.state == "queued" and job.attempts == 0
            assert (
                await db.scalar(select(Transcript).where(Transcript.dialogue_id == other.id))
                is None
            )
    finally:
        await engine.dispose()
        await cluster.drop(url)


def _salescontrol(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "salescontrol", *args],
        capture_output=True,
        text=True,
        env={**environ, **env},
        timeout=300,
    )


async def test_the_command_prints_the_users_and_if_empty_leaves_a_loaded_database(
    cluster: Cluster, audio_dir: Path
) -> None:
    url = await cluster.empty_database()  # the command runs the migrations itself
    env = {"DATABASE_URL": url, "SALESCONTROL_AUDIO_DIR": str(audio_dir)}
    try:
        loaded = await asyncio.to_thread(_salescontrol, "demo", "--days", "2", "--if-empty", **env)
        assert loaded.returncode == 0, loaded.stderr
        assert "http://127.0.0.1:8100/" in loaded.stdout
        passwords = dict(
            line.split() for line in loaded.stdout.splitlines() if line.startswith("  ")
        )
        assert set(passwords) == {"admin", "viewer"}

        before = await _counts(url)
        assert before["dialogues"] > 0
        skipped = await asyncio.to_thread(_salescontrol, "demo", "--if-empty", **env)
        assert skipped.returncode == 0, skipped.stderr
        assert "nothing loaded" in skipped.stdout and "admin" not in skipped.stdout
        assert await _counts(url) == before

        engine = make_engine(url, pool_size=1)
        async with session_factory(engine)() as db:
            users = {u.login: u for u in await db.scalars(select(User))}
        await engine.dispose()
        assert users["admin"].role == "admin" and users["viewer"].role == "viewer"
        for login, password in passwords.items():
            assert password_matches(password, users[login].password_hash)

        wrong = await asyncio.to_thread(_salescontrol, "demo", "--days", "0", **env)
        assert wrong.returncode == 2
        assert wrong.stderr.strip().splitlines() == [
            "salescontrol demo: --days must be between 1 and 31"
        ]
    finally:
        await cluster.drop(url)

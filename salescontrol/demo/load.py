"""`salescontrol demo`: the synthesized shop day loaded into the database, laid over
the last days at two coffee shops, cut, transcribed and judged, with users to
log in with. See salescontrol/demo/__init__.py for the whole picture."""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import (
    Analysis,
    AudioChunk,
    Device,
    Dialogue,
    Register,
    Review,
    Transcript,
)
from salescontrol.demo.audio import store_slots
from salescontrol.demo.extras import USERS, add_reviews, backdate, reset_users
from salescontrol.demo.fleet import ensure_fleet, report_health
from salescontrol.demo.plan import TIMEZONE, local_days, schedule
from salescontrol.demo.source import DemoUnavailable, load_source_day
from salescontrol.demo.workers import DemoBackend, Pipeline
from salescontrol.ingest.storage import AudioStore
from salescontrol.pipeline.messages import ANALYSIS, ASR, VAD

MAX_DAYS = 31


@dataclass
class Report:
    """What a run loaded, and what the demo holds now."""

    first_day: str
    last_day: str
    chunks_added: int = 0
    bytes_added: int = 0
    done: dict[str, int] = field(default_factory=dict)
    """Jobs done per kind in this run."""
    totals: dict[str, int] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    reviews_added: int = 0


async def has_dialogues(url: str) -> bool:
    engine = make_engine(url, pool_size=1)
    try:
        async with session_factory(engine)() as session:
            return await session.scalar(select(Dialogue.id).limit(1)) is not None
    finally:
        await engine.dispose()


async def _totals(session: AsyncSession, devices: list[uuid.UUID]) -> dict[str, int]:
    mine = Dialogue.device_id.in_(devices)
    registers = select(Device.register_id).where(Device.id.in_(devices))
    queries = {
        "points": select(func.count(func.distinct(Register.point_id))).where(
            Register.id.in_(registers)
        ),
        "registers": select(func.count()).where(Register.id.in_(registers)),
        "devices": select(func.count()).where(Device.id.in_(devices)),
        "chunks": select(func.count()).where(AudioChunk.device_id.in_(devices)),
        "dialogues": select(func.count()).where(mine, Dialogue.state == "closed"),
        "transcripts": select(func.count()).select_from(Transcript).join(Dialogue).where(mine),
        "analyses": select(func.count())
        .select_from(Analysis)
        .join(Dialogue)
        .where(mine, Analysis.current.is_(True)),
        "earlier runs": select(func.count())
        .select_from(Analysis)
        .join(Dialogue)
        .where(mine, Analysis.current.is_(False)),
        "reviews": select(func.count()).select_from(Review).join(Dialogue).where(mine),
    }
    return {name: int(await session.scalar(q) or 0) for name, q in queries.items()}


def _check_asr() -> None:
    if importlib.util.find_spec("faster_whisper") is None:
        raise DemoUnavailable("--asr needs faster-whisper: pip install -e '.[asr]'")


async def load_demo(
    url: str,
    audio_dir: Path,
    settings: Settings,
    days: int = 7,
    use_asr: bool = False,
    now: datetime | None = None,
) -> Report:
    """Load (or top up) the demo in the migrated database at `url`."""
    if not 1 <= days <= MAX_DAYS:
        raise DemoUnavailable(f"--days must be between 1 and {MAX_DAYS}")
    if use_asr:
        _check_asr()
    now = now or datetime.now(UTC)
    day = await asyncio.to_thread(load_source_day)
    sc = settings.salescontrol
    store = AudioStore(audio_dir)
    # Not store.prepare(): it empties `.incoming/`, where a running server may be
    # receiving an upload right now.
    store.incoming.mkdir(parents=True, exist_ok=True, mode=0o750)
    engine = make_engine(url, pool_size=4)
    sessions = session_factory(engine)
    dates = local_days(now, days)
    report = Report(first_day=dates[0].isoformat(), last_day=dates[-1].isoformat())
    try:
        async with sessions() as session, session.begin():
            devices = await ensure_fleet(session)
            registers = [d.register_id for d in devices.values()]
            points = list(
                await session.scalars(
                    select(Register.point_id).where(Register.id.in_(registers)).distinct()
                )
            )
        ids = [d.id for d in devices.values()]
        settle = timedelta(seconds=sc.speech.dialogues.idle_close_s + 60)
        slots = schedule(day, now, days, settle)
        stored = await store_slots(sessions, store, settings, devices, slots, day)
        report.chunks_added, report.bytes_added = stored.chunks, stored.bytes
        backend = DemoBackend(engine, sessions, audio_dir, sc, points)
        report.done = await Pipeline(backend, settings, day, ids, use_asr).run(now)
        async with sessions() as session, session.begin():
            await backdate(session, ids, now)
            report.passwords = await reset_users(session)
            report.reviews_added = await add_reviews(session, ids, USERS[0][0], now)
            await report_health(session, devices, now)
        async with sessions() as session:
            report.totals = await _totals(session, ids)
    finally:
        await engine.dispose()
    return report


def describe(report: Report, port: int) -> list[str]:
    """The lines the command prints: what was loaded, the users, where to look."""
    t = report.totals
    mb = report.bytes_added / 1_000_000
    return [
        f"demo: organisation «Демо» — {t['points']} points, {t['registers']} registers, "
        f"{t['devices']} devices ({TIMEZONE}), days {report.first_day} … {report.last_day}",
        f"demo: this run added {report.chunks_added} chunks ({mb:.1f} MB), "
        f"cut {report.done.get(VAD, 0)} chunks, transcribed {report.done.get(ASR, 0)} "
        f"and judged {report.done.get(ANALYSIS, 0)} dialogues, "
        f"{report.reviews_added} reviews",
        f"demo: in the database: {t['chunks']} chunks, {t['dialogues']} closed dialogues, "
        f"{t['transcripts']} transcripts, {t['analyses']} current analyses "
        f"(+{t['earlier runs']} earlier runs), {t['reviews']} reviews",
        "users (new passwords, shown only now):",
        *(f"  {login:<7} {password}" for login, password in report.passwords.items()),
        f"dashboard: http://127.0.0.1:{port}/",
    ]

"""The janitor: deletes only sent chunks, oldest first; unsent audio that fills
the budget stops recording ("disk full") until the uploads make room. Once with
the stub server, once with the real ingest API on the embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from salescontrol.accounts import add_user
from salescontrol.recorder.agent import Agent
from salescontrol.recorder.chunk import ChunkMeta
from salescontrol.recorder.config import Config
from salescontrol.recorder.janitor import plan
from salescontrol.recorder.spool import Spool, Usage
from tests.salescontrol.ingest.service import ADMIN_LOGIN, ADMIN_PASSWORD
from tests.salescontrol.recorder.conftest import eventually, make_config, needs_ffmpeg
from tests.salescontrol.server import IngestProcess, register_devices, stored_chunks
from tests.support.recorder import ChunkServer, queue_chunks


def usage(*, outbox: int = 0, sent: tuple[int, ...] = (), failed: int = 0) -> Usage:
    return Usage(
        recording_bytes=0,
        outbox_bytes=outbox,
        sent_bytes=sum(sent),
        failed_bytes=failed,
        queue=1 if outbox else 0,
        failed=1 if failed else 0,
        oldest_queued=None,
        sent=tuple((seq, size) for seq, size in enumerate(sent, start=1)),
    )


LOTS = 10**12


def test_sent_chunks_are_deleted_oldest_first_to_fit_the_budget() -> None:
    decided = plan(
        usage(outbox=300, sent=(200, 200, 200)),
        disk_free=LOTS, max_bytes=600, min_free=0, chunk_bytes=50, was_full=False,
    )  # fmt: skip
    assert decided.delete == (1, 2)  # 900 -> 500
    assert not decided.disk_full


def test_free_disk_space_is_kept_by_deleting_sent_chunks() -> None:
    decided = plan(
        usage(outbox=100, sent=(200, 200, 200)),
        disk_free=250, max_bytes=LOTS, min_free=500, chunk_bytes=50, was_full=False,
    )  # fmt: skip
    assert decided.delete == (1, 2)  # 250 + 400 >= 500
    assert not decided.disk_full


def test_unsent_audio_is_never_deleted_and_stops_recording() -> None:
    decided = plan(
        usage(outbox=650, failed=100, sent=(200,)),
        disk_free=LOTS, max_bytes=700, min_free=0, chunk_bytes=50, was_full=False,
    )  # fmt: skip
    assert decided.delete == (1,)  # only what the server has
    assert decided.disk_full


def test_a_disk_filled_by_something_else_stops_recording() -> None:
    decided = plan(
        usage(outbox=10), disk_free=100, max_bytes=LOTS, min_free=500, chunk_bytes=50,
        was_full=False,
    )  # fmt: skip
    assert decided.delete == () and decided.disk_full


def test_recording_resumes_only_with_room_for_a_whole_chunk() -> None:
    def full(outbox: int) -> bool:
        return plan(
            usage(outbox=outbox), disk_free=LOTS, max_bytes=700, min_free=0, chunk_bytes=50,
            was_full=True,
        ).disk_full  # fmt: skip

    assert full(680)  # 20 bytes of room: the next chunk would not fit
    assert not full(640)


@needs_ffmpeg
@pytest.mark.slow
async def test_a_full_budget_stops_recording_and_uploads_make_room(
    config_for: Callable[..., Config],
    server: ChunkServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = config_for(spool={"max_bytes": 70_000})
    spool = Spool(config.spool.dir)
    start = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    queued = queue_chunks(spool, 10, 4, start, tmp_path / "made")
    assert spool.usage().outbox_bytes > 70_000  # the server was away for long
    server.down()
    agent = Agent(config, tick_s=0.1, janitor_every_s=0.2)
    with caplog.at_level(logging.INFO, logger="salescontrol.recorder.janitor"):
        task = asyncio.create_task(agent.run())
        try:
            await eventually(lambda: agent.status.state() == "disk_full", 10, "disk full")
            async with httpx.AsyncClient() as client:
                answer = await client.get(f"http://127.0.0.1:{config.health.port}/health")
            assert answer.status_code == 503
            health = answer.json()
            assert (health["state"], health["reason"], health["recording"]) == (
                "disk_full", "disk full", False,
            )  # fmt: skip
            await asyncio.sleep(1)
            assert agent.capture.proc is None
            assert spool.seqs("outbox") == list(range(10))  # nothing unsent deleted
            server.up()
            await eventually(lambda: agent.status.state() == "recording", 20, "recording again")
            await eventually(lambda: len(server.stored) > 10, 10, "a new chunk uploaded")
        finally:
            agent.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
    stored = list(server.stored.values())
    assert [s.chunk_id for s in stored[:10]] == [m.id for m in queued]
    assert [s.sha256 for s in stored[:10]] == [m.sha256 for m in queued]
    deleted = [
        r.seq  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "janitor: sent chunk deleted"
    ]
    assert deleted and deleted == sorted(deleted)  # oldest first
    left = spool.seqs("sent")
    assert all(seq > max(deleted) for seq in left)
    assert spool.usage().total_bytes <= 70_000 + config.recording.chunk_bytes


@dataclass(frozen=True)
class RealDevice:
    url: str
    token: str


@dataclass
class Card:
    """An SD card of `size` bytes holding only the spool: its free space shrinks as
    the spool grows and comes back when the janitor deletes."""

    spool: Spool
    size: int

    def free(self) -> int:
        return self.size - self.spool.usage().total_bytes


@needs_ffmpeg
@pytest.mark.slow
async def test_a_full_card_keeps_unsent_chunks_until_the_real_server_has_them(
    database_url: str, tmp_path: Path
) -> None:
    await add_user(database_url, ADMIN_LOGIN, ADMIN_PASSWORD, "admin")
    server = IngestProcess(database_url, tmp_path / "audio", tmp_path / "ingest.log")
    await asyncio.to_thread(server.start)
    agent: Agent | None = None
    task: asyncio.Task[int] | None = None
    try:
        [token] = await asyncio.to_thread(register_devices, server.url, 1)
        min_free = 100_000
        config = make_config(
            tmp_path / "spool", RealDevice(server.url, token),
            spool={"max_bytes": "50MB", "min_free_bytes": min_free},
        )  # fmt: skip
        spool = Spool(config.spool.dir)
        # Room for about four 2 s chunks above the free space the janitor keeps.
        card = Card(spool, min_free + 3 * config.recording.chunk_bytes)
        agent = Agent(config, tick_s=0.1, janitor_every_s=0.2, disk_free=card.free)
        made: list[ChunkMeta] = []  # every chunk the agent records, as it is made
        on_chunk = agent.completer.on_chunk
        assert on_chunk is not None

        def note(meta: ChunkMeta) -> None:
            made.append(meta)
            on_chunk(meta)

        agent.completer.on_chunk = note
        task = asyncio.create_task(agent.run())
        await eventually(lambda: len(spool.seqs("sent")) >= 2, 30, "two chunks uploaded")

        server.stop()  # the server is away; the card fills with unsent chunks
        await eventually(lambda: agent.status.state() == "disk_full", 60, "disk full")
        await eventually(lambda: agent.capture.proc is None, 20, "recording stopped")
        # The janitor made room with what the server has, and then stopped recording.
        assert spool.seqs("sent") == []
        await asyncio.sleep(0.5)  # the stopped ffmpeg's last chunk reaches the outbox
        held = spool.seqs("outbox")
        assert len(held) >= 3
        assert card.free() < min_free  # the janitor has to act on every pass
        await asyncio.sleep(1.5)
        assert spool.seqs("outbox") == held  # nothing unsent deleted, nothing recorded
        assert all(spool.audio("outbox", seq).is_file() for seq in held)
        waiting = {spool.load("outbox", seq).id for seq in held}

        await asyncio.to_thread(server.start)
        await eventually(lambda: agent.status.state() == "recording", 30, "recording again")
        after = len(made)
        await eventually(
            lambda: any(spool.sidecar("sent", m.seq).exists() for m in made[after:]),
            20, "a chunk recorded after the outage uploaded",
        )  # fmt: skip
    finally:
        if agent is not None:
            agent.stop()
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
        server.stop()

    rows = await stored_chunks(database_url)
    stored = {str(r.client_id): r.sha256 for r in rows}
    assert len(stored) == len(rows)  # each at most once
    assert waiting <= set(stored)  # every chunk held through the outage arrived
    unsent = {spool.load("outbox", seq).id for seq in spool.seqs("outbox")}
    assert spool.seqs("failed") == []
    assert set(stored) <= {meta.id for meta in made}
    # Every chunk recorded is on the server as it was made, or still waiting here
    # (or both: the agent stopped before the answer to its last upload came).
    for meta in made:
        assert meta.id in stored or meta.id in unsent
        if meta.id in stored:
            assert stored[meta.id] == meta.sha256
        if meta.id in unsent:
            assert spool.audio("outbox", meta.seq).is_file()

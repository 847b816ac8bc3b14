"""The recorder agent and the ingest API together, both real processes: ffmpeg
records a generated audio file into clock-aligned chunks, the agent uploads them to
`salescontrol serve` on the embedded PostgreSQL. The server is killed for as many
chunks as ten minutes hold at the production length (ten; the chunks here last 2 s
instead of 60) and comes back: no chunk is lost, none is stored twice, they arrive
in recording order, and a chunk the server refuses (400) is parked in failed/
without holding up the others."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from salescontrol.accounts import add_user
from salescontrol.recorder.chunk import ChunkMeta
from salescontrol.recorder.spool import Spool
from tests.salescontrol.ingest.service import ADMIN_LOGIN, ADMIN_PASSWORD
from tests.salescontrol.server import IngestProcess, register_devices, stored_chunks
from tests.support import ROOT
from tests.support.net import free_port, stop

pytestmark = pytest.mark.slow

CHUNK_S = 2
OUTAGE_CHUNKS = 10  # ten minutes of 60 s chunks


def sidecars(spool: Spool, state: str) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(spool.dir(state).glob("*.json"))]


async def wait_for(check: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.2)


async def test_an_outage_loses_nothing_and_a_refused_chunk_blocks_nothing(
    database_url: str, tmp_path: Path
) -> None:
    await add_user(database_url, ADMIN_LOGIN, ADMIN_PASSWORD, "admin")
    source = tmp_path / "shop.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi",
         "-i", "anoisesrc=duration=30:amplitude=0.1:sample_rate=16000", str(source)],
        check=True,
    )  # fmt: skip
    # A damaged chunk waiting in the outbox (a bad card, say): refused with 400.
    spool = Spool(tmp_path / "spool")
    spool.prepare()
    bad = spool.audio("recording", 0)
    bad.write_bytes(b"OggS" + bytes(3000))
    data = bad.read_bytes()
    spool.admit(
        bad,
        ChunkMeta.new(0, datetime(2026, 12, 4, 3, 0, tzinfo=UTC), 2.0, len(data),
                      hashlib.sha256(data).hexdigest()),
    )  # fmt: skip
    server = IngestProcess(database_url, tmp_path / "audio", tmp_path / "ingest.log")
    agent: subprocess.Popen[bytes] | None = None
    try:
        await asyncio.to_thread(server.start)
        [token] = await asyncio.to_thread(register_devices, server.url, 1)
        config = tmp_path / "recorder.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "server": {"url": server.url, "token": token, "timeout_s": 5,
                               "retry_initial_s": 0.2, "retry_max_s": 1},
                    "recording": {"source": f"file:{source}", "chunk_s": CHUNK_S},
                    "spool": {"dir": str(spool.root), "max_bytes": "100MB", "min_free_bytes": 0},
                    "health": {"port": free_port()},
                    "heartbeat_s": 5,
                }
            )
        )  # fmt: skip
        agent = subprocess.Popen(
            [sys.executable, "-m", "salescontrol", "recorder", "--config", str(config)],
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stderr=(tmp_path / "agent.log").open("wb"),
        )  # fmt: skip
        await wait_for(lambda: len(sidecars(spool, "sent")) >= 3, 60, "first uploads")
        assert [s["http_status"] for s in sidecars(spool, "failed")] == [400]

        server.kill()
        outage_started = time.monotonic()
        await asyncio.sleep(OUTAGE_CHUNKS * CHUNK_S)
        waiting = len(sidecars(spool, "outbox"))
        assert waiting >= OUTAGE_CHUNKS - 2, "the agent kept recording while the server was down"
        await asyncio.to_thread(server.start)
        await wait_for(lambda: not sidecars(spool, "outbox"), 60, "the backlog to drain")
        assert time.monotonic() - outage_started < 120
    finally:
        if agent is not None:
            stop(agent)
        server.stop()

    sent = sidecars(spool, "sent")
    rows = await stored_chunks(database_url)
    # Every chunk the agent counts as sent is stored, exactly once, in order.
    assert sorted(str(s["id"]) for s in sent) == sorted(str(r.client_id) for r in rows)
    assert len(rows) >= 3 + waiting
    for earlier, later in itertools.pairwise(rows):
        # Back to back: no chunk missing between two stored ones.
        assert abs((later.started_at - earlier.ended_at).total_seconds()) < 0.2
    # In recording order as the server received them: a row's created_at is when
    # its upload reached the database (one upload at a time, so never a tie),
    # the backlog after the outage included.
    seq_of = {str(s["id"]): int(str(s["seq"])) for s in sent}
    arrived = sorted(rows, key=lambda r: r.created_at)
    assert all(a.created_at < b.created_at for a, b in itertools.pairwise(arrived))
    assert [seq_of[str(r.client_id)] for r in arrived] == sorted(seq_of.values())

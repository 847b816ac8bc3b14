"""Upload semantics against a real HTTP server: idempotent retries, final 4xx
answers to failed/, transient ones retried in order, Retry-After, timeouts, and
the device token kept out of the logs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from salescontrol.recorder import cli
from salescontrol.recorder.chunk import ChunkMeta
from salescontrol.recorder.config import Config
from salescontrol.recorder.spool import Spool
from salescontrol.recorder.status import Status
from salescontrol.recorder.times import rfc3339
from salescontrol.recorder.uploader import Uploader
from tests.salescontrol.recorder.conftest import eventually, needs_ffmpeg
from tests.support.recorder import ChunkServer, queue_chunks

pytestmark = needs_ffmpeg

DAY_START = datetime(2026, 12, 4, 3, 0, 0, 123456, tzinfo=UTC)  # 08:00 in Almaty


class Delivery:
    def __init__(self, config: Config, tmp_path: Path) -> None:
        self.config = config
        self.tmp_path = tmp_path
        self.spool = Spool(config.spool.dir)
        self.status = Status("test")
        self.uploader = Uploader(config.server, self.spool, self.status, poll_s=0.1)

    def queue(self, count: int, seconds: int = 2) -> list[ChunkMeta]:
        return queue_chunks(self.spool, count, seconds, DAY_START, self.tmp_path / "made")

    def states(self) -> dict[str, list[int]]:
        return {state: self.spool.seqs(state) for state in ("outbox", "sent", "failed")}

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=self.config.server.timeout_s) as client:
            task = asyncio.create_task(self.uploader.run(client))
            try:
                yield
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def until(self, states: dict[str, list[int]], timeout_s: float = 20) -> None:
        await eventually(lambda: self.states() == states, timeout_s, f"spool {states}")


@pytest.fixture
def delivery(config_for: Callable[..., Config], tmp_path: Path) -> Callable[..., Delivery]:
    return lambda **sections: Delivery(config_for(**sections), tmp_path)


def statuses(server: ChunkServer, chunk_id: str) -> list[int | str]:
    return [seen.status for seen in server.chunk_puts(chunk_id)]


async def test_a_lost_answer_is_retried_and_the_server_keeps_one_copy(
    delivery: Callable[..., Delivery], server: ChunkServer
) -> None:
    d = delivery()
    metas = d.queue(2)
    server.lose_answer.add(metas[0].id)  # stored, then the connection drops
    async with d.running():
        await d.until({"outbox": [], "sent": [0, 1], "failed": []})
    assert statuses(server, metas[0].id) == ["dropped", 200]
    assert list(server.stored) == [m.id for m in metas]
    sent = d.spool.load("sent", 0)
    assert sent.http_status == 200 and sent.server is not None
    assert sent.server["sha256"] == metas[0].sha256


async def test_a_rejected_chunk_goes_to_failed_with_the_reason_and_the_next_is_sent(
    delivery: Callable[..., Delivery], server: ChunkServer
) -> None:
    d = delivery()
    metas = d.queue(3)
    server.reject[metas[1].id] = (400, "bad_audio", "not an Ogg Opus stream")
    async with d.running():
        await d.until({"outbox": [], "sent": [0, 2], "failed": [1]})
    failed = d.spool.load("failed", 1)
    assert (failed.http_status, failed.error_code, failed.error_message) == (
        400, "bad_audio", "not an Ogg Opus stream",
    )  # fmt: skip
    assert failed.failed_at is not None and d.spool.audio("failed", 1).exists()
    assert statuses(server, metas[1].id) == [400]  # asked once, never again
    assert list(server.stored) == [metas[0].id, metas[2].id]
    assert d.status.health()["failed"] == 0  # counted by the janitor's pass, not here
    assert "chunk 1 rejected: 400 bad_audio" in d.status.health()["errors"][-1]


@pytest.mark.parametrize("status", [401, 403, 404, 409, 413, 415, 422])
async def test_every_final_4xx_moves_the_chunk_to_failed(
    delivery: Callable[..., Delivery], server: ChunkServer, status: int
) -> None:
    d = delivery()
    metas = d.queue(2)
    server.reject[metas[0].id] = (status, "refused", f"refused with {status}")
    async with d.running():
        await d.until({"outbox": [], "sent": [1], "failed": [0]})
    assert d.spool.load("failed", 0).http_status == status
    assert statuses(server, metas[0].id) == [status]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_transient_answers_are_retried_and_nothing_overtakes(
    delivery: Callable[..., Delivery], server: ChunkServer, status: int
) -> None:
    d = delivery()
    metas = d.queue(2)
    server.fail_next = [(status, {}), (status, {})]
    async with d.running():
        await d.until({"outbox": [], "sent": [0, 1], "failed": []})
    assert statuses(server, metas[0].id) == [status, status, 201]
    assert list(server.stored) == [m.id for m in metas]


@pytest.mark.slow
async def test_a_server_down_for_a_while_gets_every_queued_chunk_in_order(
    delivery: Callable[..., Delivery], server: ChunkServer
) -> None:
    # Ten minutes of a shop day, made by ffmpeg in about a second.
    d = delivery()
    metas = d.queue(10, seconds=60)
    server.down()
    async with d.running():
        await asyncio.sleep(2)
        assert d.states()["outbox"] == list(range(10))
        assert d.status.health()["last_upload_status"] == "ConnectError"
        server.up()
        await d.until({"outbox": [], "sent": list(range(10)), "failed": []}, 30)
    assert list(server.stored) == [m.id for m in metas]
    for meta in metas:
        stored = server.stored[meta.id]
        assert stored.sha256 == meta.sha256 == hashlib.sha256(stored.body).hexdigest()
        assert stored.start == rfc3339(meta.start)
    assert [server.stored[m.id].start for m in metas][:2] == [
        "2026-12-04T03:00:00.123456+00:00",
        "2026-12-04T03:01:00.123456+00:00",
    ]
    first_put = server.chunk_puts(metas[0].id)[0]
    assert first_put.headers["Content-Type"] == "audio/ogg"
    assert first_put.headers["Authorization"] == f"Bearer {server.token}"


@pytest.mark.slow
async def test_retry_after_is_honoured(
    delivery: Callable[..., Delivery], server: ChunkServer
) -> None:
    d = delivery(server={"retry_initial_s": 0.05, "retry_max_s": 10})
    metas = d.queue(1)
    server.fail_next = [(503, {"Retry-After": "2"})]
    async with d.running():
        await d.until({"outbox": [], "sent": [0], "failed": []})
    first, second = server.chunk_puts(metas[0].id)
    assert (first.status, second.status) == (503, 201)
    # Without the header the next try would have come within 0.05 s.
    assert 1.9 <= second.at - first.at < 3.5


@pytest.mark.slow
async def test_a_slow_answer_times_out_and_the_retry_is_answered_200(
    delivery: Callable[..., Delivery], server: ChunkServer
) -> None:
    d = delivery(server={"timeout_s": 0.5})
    metas = d.queue(1)
    server.slow_next = [1.5]  # stored at once, answered after the client gave up
    async with d.running():
        await d.until({"outbox": [], "sent": [0], "failed": []})
    assert statuses(server, metas[0].id) == [201, 200]
    assert len(server.stored) == 1
    assert any("ReadTimeout" in e for e in d.status.health()["errors"])


async def test_a_chunk_changed_on_disk_is_not_sent(
    delivery: Callable[..., Delivery], server: ChunkServer
) -> None:
    d = delivery()
    metas = d.queue(2)
    with d.spool.audio("outbox", 0).open("ab") as damaged:
        damaged.write(b"\0")
    async with d.running():
        await d.until({"outbox": [], "sent": [1], "failed": [0]})
    assert d.spool.load("failed", 0).error_code == "local_sha256_mismatch"
    assert server.chunk_puts(metas[0].id) == []


async def test_the_token_never_reaches_logs_or_reports(
    delivery: Callable[..., Delivery], server: ChunkServer, caplog: pytest.LogCaptureFixture
) -> None:
    d = delivery()
    metas = d.queue(3)
    server.fail_next = [(503, {})]
    server.lose_answer.add(metas[1].id)
    server.reject[metas[2].id] = (401, "unauthorized", "unknown device")
    with caplog.at_level(logging.DEBUG, logger="salescontrol"):
        async with d.running():
            await d.until({"outbox": [], "sent": [0, 1], "failed": [2]})
    assert caplog.records
    logged = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert server.token not in logged
    assert server.token not in json.dumps(d.status.health())
    for state in ("sent", "failed"):
        for sidecar in d.spool.dir(state).glob("*.json"):
            assert server.token not in sidecar.read_text()


def test_the_sidecar_round_trips_with_utc_microseconds() -> None:
    meta = ChunkMeta.new(7, DAY_START + timedelta(seconds=60), 59.98, 123, "ab" * 32)
    data = json.loads(meta.to_json())
    assert data["start"] == "2026-12-04T03:01:00.123456+00:00"
    assert set(data) == {"id", "seq", "start", "duration_s", "size_bytes", "sha256"}
    assert ChunkMeta.from_json(meta.to_json()) == meta


async def test_requeued_failed_chunks_are_sent_once_the_cause_is_fixed(
    delivery: Callable[..., Delivery], server: ChunkServer, tmp_path: Path
) -> None:
    d = delivery()
    metas = d.queue(2)
    server.reject[metas[0].id] = (401, "unauthorized", "unknown device token")
    async with d.running():
        await d.until({"outbox": [], "sent": [1], "failed": [0]})
    del server.reject[metas[0].id]  # the administrator fixed the token
    config = tmp_path / "recorder.yaml"
    config.write_text(json.dumps(d.config.model_dump(mode="json") | {
        "server": {"url": server.url, "token": server.token},
    }))  # fmt: skip
    assert cli.main(["--config", str(config), "--requeue-failed"]) == 0
    requeued = d.spool.load("outbox", 0)
    assert requeued.id == metas[0].id and requeued.http_status is None
    async with d.running():
        await d.until({"outbox": [], "sent": [0, 1], "failed": []})
    assert statuses(server, metas[0].id) == [401, 201]

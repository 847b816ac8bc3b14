"""Uploading chunks: each stored exactly once — a retry after a lost answer, a race
of the same upload, a failure half way — and bad uploads refused with a clear,
structured error that names the problem."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.settings import Settings
from salescontrol.db.models import AudioChunk, Device, Job
from salescontrol.ingest.chunks import VAD
from tests.salescontrol.audio import AudioFactory
from tests.salescontrol.ingest.service import Ingest, serve
from tests.support.errors import assert_error

START = datetime(2026, 12, 4, 9, 0, 0, 123456, tzinfo=UTC)


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.opus") if ".incoming" not in p.parts)


def incoming(root: Path) -> list[Path]:
    return list((root / ".incoming").iterdir())


async def rows(ingest: Ingest, model: Any) -> list[Any]:
    async with ingest.runtime.sessions() as session:
        return list(await session.scalars(select(model)))


async def test_a_chunk_is_stored_with_its_measured_length_and_a_job(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await ingest.device()
    body = audio.opus(seconds=2.5)
    chunk_id = uuid.uuid4()

    response = await device.upload(chunk_id, START, body)

    assert response.status_code == 201, response.text
    out = response.json()
    assert out["chunk_id"] == str(chunk_id)
    assert out["size_bytes"] == len(body)
    assert out["sha256"] == hashlib.sha256(body).hexdigest()
    # The end is the start plus what ffprobe measured, not an assumed 60 s.
    assert out["duration_s"] == pytest.approx(2.5, abs=0.05)
    assert datetime.fromisoformat(out["started_at"]) == START
    assert datetime.fromisoformat(out["ended_at"]) == START + timedelta(seconds=out["duration_s"])
    [row] = await rows(ingest, AudioChunk)
    assert (row.state, row.codec, row.sample_rate, row.channels) == ("stored", "opus", 48000, 1)
    [file] = stored_files(ingest.audio_dir)
    assert file == ingest.audio_dir / row.path and file.read_bytes() == body
    [job] = await rows(ingest, Job)
    assert (job.kind, job.subject_id, job.state) == (VAD, row.id, "queued")
    [dev] = await rows(ingest, Device)
    assert dev.last_upload_at is not None
    assert incoming(ingest.audio_dir) == []


async def test_a_retry_after_a_lost_answer_gets_the_first_answer_and_stores_nothing_new(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await ingest.device()
    body = audio.opus()
    chunk_id = uuid.uuid4()
    first = await device.upload(chunk_id, START, body)
    assert first.status_code == 201

    again = await device.upload(chunk_id, START, body)

    assert again.status_code == 200
    assert again.json() == first.json()
    assert len(await rows(ingest, AudioChunk)) == 1
    assert len(await rows(ingest, Job)) == 1
    assert len(stored_files(ingest.audio_dir)) == 1
    assert incoming(ingest.audio_dir) == []


async def test_the_same_upload_racing_itself_is_stored_once(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await ingest.device()
    body = audio.opus()
    chunk_id = uuid.uuid4()

    answers = await asyncio.gather(*(device.upload(chunk_id, START, body) for _ in range(6)))

    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.text for a in answers}) == 1
    assert len(await rows(ingest, AudioChunk)) == 1
    assert len(stored_files(ingest.audio_dir)) == 1


async def test_an_id_reused_for_other_audio_and_a_second_chunk_at_one_start_are_conflicts(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await ingest.device()
    chunk_id = uuid.uuid4()
    assert (await device.upload(chunk_id, START, audio.opus(hz=440))).status_code == 201

    assert_error(await device.upload(chunk_id, START, audio.opus(hz=880)), 409, "CONFLICT")
    assert_error(await device.upload(uuid.uuid4(), START, audio.opus()), 409, "CONFLICT")
    # Another device may of course record at the same instant.
    other = await ingest.device(name="pi-2")
    assert (await other.upload(uuid.uuid4(), START, audio.opus())).status_code == 201
    assert len(await rows(ingest, AudioChunk)) == 2
    assert len(stored_files(ingest.audio_dir)) == 2


class PausedPlace:
    """The first upload to place its file stops just before it, until `release`."""

    def __init__(self, ingest: Ingest, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        store = ingest.runtime.store
        place = store.place

        async def paused(received: Any, relative: str) -> Path:
            if not self.entered.is_set():
                self.entered.set()
                await self.release.wait()
            return await place(received, relative)

        monkeypatch.setattr(store, "place", paused)


async def test_two_chunks_racing_for_one_start_store_one_and_the_other_is_a_conflict(
    ingest: Ingest, audio: AudioFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = await ingest.device()
    first_id, second_id = uuid.uuid4(), uuid.uuid4()
    first_body, second_body = audio.opus(hz=440), audio.opus(hz=880)
    paused = PausedPlace(ingest, monkeypatch)

    first = asyncio.create_task(device.upload(first_id, START, first_body))
    await paused.entered.wait()  # its row is `receiving`, its file not yet in place
    second = asyncio.create_task(device.upload(second_id, START, second_body))
    # Room for the second to run as far as it can while the first is stuck; it
    # must not take the first's row for a crash's leftover.
    await asyncio.wait({second}, timeout=2)
    paused.release.set()
    answers = [await first, await second]

    assert answers[0].status_code == 201, answers[0].text
    assert_error(answers[1], 409, "CONFLICT")
    [row] = await rows(ingest, AudioChunk)
    assert (row.client_id, row.state) == (first_id, "stored")
    assert [f.read_bytes() for f in stored_files(ingest.audio_dir)] == [first_body]
    [job] = await rows(ingest, Job)
    assert job.subject_id == row.id
    assert incoming(ingest.audio_dir) == []


async def test_a_chunk_whose_row_vanished_while_its_file_was_placed_is_not_acknowledged(
    ingest: Ingest, audio: AudioFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = await ingest.device()
    chunk_id = uuid.uuid4()
    paused = PausedPlace(ingest, monkeypatch)
    upload = asyncio.create_task(device.upload(chunk_id, START, audio.opus()))
    await paused.entered.wait()
    async with ingest.runtime.sessions() as db, db.begin():
        [row] = list(await db.scalars(select(AudioChunk)))
        await db.delete(row)
    paused.release.set()

    response = await upload

    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert int(response.headers["Retry-After"]) >= 1
    assert await rows(ingest, AudioChunk) == []
    assert await rows(ingest, Job) == []
    assert stored_files(ingest.audio_dir) == []
    assert incoming(ingest.audio_dir) == []
    assert (await device.upload(chunk_id, START, audio.opus())).status_code == 201


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("damaged", 400, "BAD_REQUEST"),
        ("not_audio", 400, "BAD_REQUEST"),
        ("wav", 415, "UNSUPPORTED_MEDIA_TYPE"),
        ("empty", 400, "BAD_REQUEST"),
    ],
)
async def test_a_bad_body_is_refused_and_leaves_nothing(
    ingest: Ingest, audio: AudioFactory, case: str, status: int, code: str
) -> None:
    device = await ingest.device()
    bodies = {
        "damaged": (audio.opus(), hashlib.sha256(b"other").hexdigest()),
        "not_audio": (b"OggS" + bytes(5000), "auto"),
        "wav": (audio.wav(), "auto"),
        "empty": (b"", "auto"),
    }
    body, sha = bodies[case]

    assert_error(await device.upload(uuid.uuid4(), START, body, sha256=sha), status, code)

    assert await rows(ingest, AudioChunk) == []
    assert await rows(ingest, Job) == []
    assert stored_files(ingest.audio_dir) == []
    assert incoming(ingest.audio_dir) == []


async def test_a_chunk_over_the_limits_is_refused(
    database_url: str, tmp_path: Path, audio: AudioFactory, settings: Settings
) -> None:
    sc = settings.salescontrol
    ingest_limits = sc.ingest.model_copy(update={"max_chunk_bytes": 40_000, "max_chunk_s": 3})
    business = settings.business.model_copy(
        update={"salescontrol": sc.model_copy(update={"ingest": ingest_limits})}
    )
    async with serve(settings.model_copy(update={"business": business})) as ingest:
        device = await ingest.device()
        assert (await device.upload(uuid.uuid4(), START, audio.opus(2))).status_code == 201
        too_long = await device.upload(uuid.uuid4(), START + timedelta(minutes=1), audio.opus(5))
        assert_error(too_long, 400, "BAD_REQUEST")
        assert "at most 3" in too_long.json()["error"]["message"]
        too_big = await device.upload(
            uuid.uuid4(), START + timedelta(minutes=2), bytes(50_000), sha256=None
        )
        assert_error(too_big, 413, "PAYLOAD_TOO_LARGE")
        assert len(await rows(ingest, AudioChunk)) == 1
        assert incoming(ingest.audio_dir) == []


@pytest.mark.parametrize(
    ("start", "fragment"),
    [("yesterday", "RFC 3339"), ("2026-12-04T09:00:00", "offset")],
)
async def test_a_start_without_a_zone_or_unreadable_is_refused(
    ingest: Ingest, audio: AudioFactory, start: str, fragment: str
) -> None:
    device = await ingest.device()
    response = await device.upload(uuid.uuid4(), start, audio.opus())
    assert_error(response, 400, "BAD_REQUEST")
    assert fragment in response.json()["error"]["message"]


async def test_the_start_header_is_required_and_the_id_must_be_a_uuid(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await ingest.device()
    missing = await ingest.http.put(
        f"/api/v1/devices/me/chunks/{uuid.uuid4()}", content=audio.opus(), headers=device.auth
    )
    assert_error(missing, 400, "BAD_REQUEST")
    assert "x-chunk-start" in missing.json()["error"]["message"].lower()
    bad_id = await ingest.http.put(
        "/api/v1/devices/me/chunks/12",
        content=audio.opus(),
        headers={**device.auth, "X-Chunk-Start": START.isoformat()},
    )
    assert_error(bad_id, 400, "BAD_REQUEST")


async def test_only_an_enabled_device_with_its_token_may_upload(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await ingest.device()
    url = f"/api/v1/devices/me/chunks/{uuid.uuid4()}"
    headers = {"X-Chunk-Start": START.isoformat()}
    body = audio.opus()

    assert_error(await ingest.http.put(url, content=body, headers=headers), 401, "UNAUTHORIZED")
    token_id = device.token.split(".", 1)[0]
    for token in (f"{token_id}.wrong-secret", "no-dot", f"{uuid.uuid4().hex}.x", ""):
        forged = {**headers, "Authorization": f"Bearer {token}"}
        assert_error(await ingest.http.put(url, content=body, headers=forged), 401, "UNAUTHORIZED")
    # An admin's session is not a device.
    as_admin = {**headers, **ingest.admin}
    assert_error(await ingest.http.put(url, content=body, headers=as_admin), 401, "UNAUTHORIZED")

    disabled = await ingest.http.patch(
        f"/api/v1/admin/devices/{device.id}", json={"enabled": False}, headers=ingest.admin
    )
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert_error(await device.upload(uuid.uuid4(), START, body), 403, "FORBIDDEN")
    assert await rows(ingest, AudioChunk) == []


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (ConnectionResetError("the database went away"), 503, "SERVICE_UNAVAILABLE"),
        (RuntimeError("a bug"), 500, "INTERNAL"),
    ],
)
async def test_a_failed_database_write_leaves_no_file_and_no_row(
    ingest: Ingest,
    audio: AudioFactory,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    status: int,
    code: str,
) -> None:
    device = await ingest.device()
    chunks = ingest.runtime.chunks

    async def broken(row: AudioChunk) -> None:
        raise failure

    monkeypatch.setattr(chunks, "_complete", broken)
    response = await device.upload(uuid.uuid4(), START, audio.opus())

    assert_error(response, status, code)
    if status == 503:  # transient: the recorder is told when to retry
        assert int(response.headers["Retry-After"]) >= 1
    assert await rows(ingest, AudioChunk) == []
    assert stored_files(ingest.audio_dir) == []
    assert incoming(ingest.audio_dir) == []
    # The device retries once the trouble is over, and the chunk is stored.
    monkeypatch.undo()
    assert (await device.upload(uuid.uuid4(), START, audio.opus())).status_code == 201


async def test_a_full_audio_disk_is_a_503_and_leaves_no_row(
    ingest: Ingest, audio: AudioFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = await ingest.device()

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ingest.runtime.store, "_place", disk_full)
    response = await device.upload(uuid.uuid4(), START, audio.opus())

    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert "disk full" in response.json()["error"]["message"]
    assert await rows(ingest, AudioChunk) == []
    assert stored_files(ingest.audio_dir) == []
    assert incoming(ingest.audio_dir) == []


async def test_a_stopped_database_is_a_503_until_it_returns(
    ingest: Ingest, audio: AudioFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = await ingest.device()
    sessions = ingest.runtime.sessions

    def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(ingest.runtime, "sessions", unreachable)
    monkeypatch.setattr(ingest.runtime.chunks, "sessions", unreachable)
    down = await device.upload(uuid.uuid4(), START, audio.opus())

    assert_error(down, 503, "SERVICE_UNAVAILABLE")
    assert incoming(ingest.audio_dir) == []
    monkeypatch.undo()
    assert ingest.runtime.sessions is sessions
    assert (await device.upload(uuid.uuid4(), START, audio.opus())).status_code == 201


async def test_a_heartbeat_is_kept_as_the_devices_last_health(ingest: Ingest) -> None:
    device = await ingest.device()
    report = {
        "recording": False,
        "reason": "disk_full",
        "queue": 7,
        "failed": 1,
        "errors": ["ffmpeg exited 1"],
        "disk_free_bytes": 1024,
        "version": "1.0",
    }
    response = await ingest.http.post(
        "/api/v1/devices/me/heartbeat", json=report, headers=device.auth
    )
    assert response.status_code == 204

    listed = await ingest.http.get("/api/v1/admin/devices", headers=ingest.admin)
    [shown] = [d for d in listed.json() if d["id"] == device.id]
    assert shown["last_seen_at"] is not None
    assert shown["last_health"]["reason"] == "disk_full"
    assert shown["last_health"]["queue"] == 7
    assert "token" not in shown  # shown once, at creation
    bad = await ingest.http.post(
        "/api/v1/devices/me/heartbeat", json={"queue": -1}, headers=device.auth
    )
    assert_error(bad, 400, "BAD_REQUEST")

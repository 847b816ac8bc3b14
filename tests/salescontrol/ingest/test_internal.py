"""The workers' routes: hidden unless SALESCONTROL_INTERNAL_TOKEN is set, open only
with that token, and through them a worker on another host takes a chunk's job,
keeps its lease, reads its audio and gives it back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from tests.salescontrol.audio import AudioFactory
from tests.salescontrol.ingest.service import INTERNAL_TOKEN, Ingest, serve, settings_for
from tests.support.errors import assert_error

WORKER = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}
START = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


async def test_a_worker_takes_a_chunk_reads_its_audio_and_gives_it_back(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await ingest.device()
    body = audio.opus()
    stored = await device.upload(uuid.uuid4(), START, body)
    assert stored.status_code == 201

    claim = {"kind": "vad", "worker": "asr-host-1", "lease_s": 30}
    taken = await ingest.http.post("/internal/v1/jobs/claim", json=claim, headers=WORKER)
    assert taken.status_code == 200, taken.text
    job = taken.json()
    assert job["kind"] == "vad" and job["attempts"] == 1
    again = await ingest.http.post("/internal/v1/jobs/claim", json=claim, headers=WORKER)
    assert again.status_code == 204  # the only job is held

    sound = await ingest.http.get(f"/internal/v1/chunks/{job['subject_id']}/audio", headers=WORKER)
    assert sound.status_code == 200 and sound.content == body
    assert sound.headers["content-type"] == "audio/ogg"

    lease = {"worker": "asr-host-1"}
    renewed = await ingest.http.post(
        f"/internal/v1/jobs/{job['id']}/renew", json=lease, headers=WORKER
    )
    assert renewed.status_code == 204
    stolen = await ingest.http.post(
        f"/internal/v1/jobs/{job['id']}/renew", json={"worker": "other"}, headers=WORKER
    )
    assert_error(stolen, 409, "CONFLICT")
    failed = await ingest.http.post(
        f"/internal/v1/jobs/{job['id']}/fail",
        json={"worker": "asr-host-1", "error": "out of memory"},
        headers=WORKER,
    )
    assert failed.status_code == 200 and failed.json() == {"state": "queued"}


async def test_the_internal_routes_need_their_token(ingest: Ingest) -> None:
    device = await ingest.device()
    url = "/internal/v1/jobs/claim"
    claim = {"kind": "vad", "worker": "w"}
    assert_error(await ingest.http.post(url, json=claim), 401, "UNAUTHORIZED")
    for headers in (device.auth, ingest.admin, {"Authorization": "Bearer nope"}):
        assert_error(await ingest.http.post(url, json=claim, headers=headers), 401, "UNAUTHORIZED")
    missing = await ingest.http.get(f"/internal/v1/chunks/{uuid.uuid4()}/audio", headers=WORKER)
    assert_error(missing, 404, "NOT_FOUND")
    bad = await ingest.http.post(url, json={"kind": "vad"}, headers=WORKER)
    assert_error(bad, 400, "BAD_REQUEST")


async def test_without_a_token_configured_nothing_internal_exists(
    database_url: str, tmp_path: Path
) -> None:
    async with serve(settings_for(database_url, tmp_path / "audio")) as ingest:
        response = await ingest.http.post(
            "/internal/v1/jobs/claim",
            json={"kind": "vad", "worker": "w"},
            headers={"Authorization": "Bearer "},
        )
        assert_error(response, 404, "NOT_FOUND")

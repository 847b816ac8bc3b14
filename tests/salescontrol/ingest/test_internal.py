"""The workers' routes: hidden unless SALESCONTROL_INTERNAL_TOKEN is set, open only
with that token, and through them a worker on another host takes a chunk's job,
keeps its lease, reads its audio and gives it back; an analysis it posts is checked
by the core, refused with the reason when invalid (nothing stored, the job tried
again later)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from salescontrol import jobs
from salescontrol.db.models import Analysis, Job
from salescontrol.pipeline.messages import ANALYSIS, AnalysisResult, JobResult
from salescontrol.pipeline.worker.loop import Worker
from salescontrol.pipeline.worker.remote import RemoteBackend
from tests.salescontrol.audio import AudioFactory
from tests.salescontrol.ingest.service import INTERNAL_TOKEN, Ingest, serve, settings_for
from tests.salescontrol.pipeline.test_analysis_results import TEXT, result, transcribed
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


TAKER = "asr-host-1"


def judgement(**changes: Any) -> dict[str, Any]:
    """A valid analysis of TEXT as a worker posts it, with `changes` (which the
    message model may not allow)."""
    return result().model_dump(mode="json") | changes


async def claim_analysis(ingest: Ingest) -> dict[str, Any]:
    claim = {"kind": "analysis", "worker": TAKER, "lease_s": 30}
    taken = await ingest.http.post("/internal/v1/jobs/claim", json=claim, headers=WORKER)
    assert taken.status_code == 200, taken.text
    job: dict[str, Any] = taken.json()
    return job


async def analysis_job(ingest: Ingest) -> dict[str, Any]:
    """The analysis job of a transcribed dialogue (TEXT, at a coffee shop), claimed
    through the route by TAKER."""
    runtime = ingest.runtime
    dialogue_id = await transcribed(runtime.sessions, runtime.settings.salescontrol.jobs)
    job = await claim_analysis(ingest)
    assert job["subject_id"] == str(dialogue_id)
    return job


async def stored(ingest: Ingest, job: dict[str, Any]) -> tuple[list[Analysis], Job]:
    """The job's dialogue's analysis runs, and the job."""
    async with ingest.runtime.sessions() as db:
        runs = list(
            await db.scalars(select(Analysis).where(Analysis.dialogue_id == job["subject_id"]))
        )
        row = await db.get(Job, job["id"])
    assert row is not None
    return runs, row


async def finish(ingest: Ingest, job: dict[str, Any], result: dict[str, Any]) -> httpx.Response:
    return await ingest.http.post(
        f"/internal/v1/jobs/{job['id']}/finish",
        json={"worker": TAKER, "result": result},
        headers=WORKER,
    )


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        # Four quotes, each of them in the transcript: still one too many.
        (judgement(evidence=["Здравствуйте", "Капучино", "большой или средний", "Давайте"]),
         "4 evidence quotes, at most 3 allowed"),
        (judgement(evidence=["большой или средний", "Хотите десерт?"]),
         "evidence quote 2 does not occur in the dialogue's transcript"),
        # A grocery's category at a coffee shop.
        (judgement(categories=["coffee_size", "bags"]),
         "categories bags are not among the point's"),
        (judgement(attempted="no", quality=0, customer_reaction="none"),
         "inconsistent judgement: no_attempt_is_empty"),
        ({"kind": "asr", "text": TEXT, "segments": [], "language": "ru", "model": "whisper"},
         "job, not asr"),
    ],
)  # fmt: skip
async def test_an_invalid_analysis_is_refused_and_its_job_tried_again(
    ingest: Ingest, result: dict[str, Any], reason: str
) -> None:
    job = await analysis_job(ingest)
    refused = await finish(ingest, job, result)
    assert_error(refused, 400, "BAD_REQUEST")
    message = refused.json()["error"]["message"]
    assert reason in message and message.endswith("the job is queued to be tried again")

    runs, row = await stored(ingest, job)
    assert runs == []
    assert (row.state, row.attempts, row.lease_owner) == ("queued", 1, None)
    assert row.last_error is not None and reason in row.last_error

    # After its backoff the job is taken again and a valid result stored, once: the
    # same post repeated (a worker retrying it) is refused, as the lease is gone.
    async with ingest.runtime.sessions() as db, db.begin():
        await db.execute(update(Job).where(Job.id == job["id"]).values(available_at=func.now()))
    again = await claim_analysis(ingest)
    assert (again["id"], again["attempts"]) == (job["id"], 2)
    assert (await finish(ingest, job, judgement())).status_code == 204
    assert_error(await finish(ingest, job, judgement()), 409, "CONFLICT")
    runs, row = await stored(ingest, job)
    assert [(r.run, r.current, r.evidence) for r in runs] == [(1, True, ["Большой или средний?"])]
    assert (row.state, row.attempts) == ("done", 2)


@pytest.mark.parametrize(
    "changes", [{"quality": 4}, {"attempted": "maybe"}, {"evidence": "большой"}]
)
async def test_a_result_that_does_not_parse_is_refused_and_nothing_stored(
    ingest: Ingest, changes: dict[str, Any]
) -> None:
    job = await analysis_job(ingest)
    assert_error(await finish(ingest, job, judgement(**changes)), 400, "BAD_REQUEST")
    runs, row = await stored(ingest, job)
    # Never read, so not failed by the core: the worker still holds the job and gives
    # it back (salescontrol.pipeline.worker.loop does), or its lease runs out.
    assert runs == [] and (row.state, row.lease_owner) == ("running", TAKER)
    back = await ingest.http.post(
        f"/internal/v1/jobs/{job['id']}/fail",
        json={"worker": TAKER, "error": "result refused"},
        headers=WORKER,
    )
    assert back.status_code == 200 and back.json() == {"state": "queued"}


@pytest.mark.parametrize(
    ("posted", "error"),
    [
        # Refused and failed by the core: the worker's give-back finds nothing to do.
        (result(evidence=["Хотите десерт?"]),
         "result refused: invalid analysis: evidence quote 1 does not occur"),
        # Not even read by the core (an older worker's quality scale): given back.
        (AnalysisResult.model_construct(**(result().model_dump() | {"quality": 5})),
         "result.analysis.quality: Input should be less than or equal to 3"),
    ],
)  # fmt: skip
async def test_a_remote_worker_goes_on_when_its_result_is_refused(
    ingest: Ingest, posted: AnalysisResult, error: str
) -> None:
    runtime = ingest.runtime
    sc = runtime.settings.salescontrol
    dialogue_id = await transcribed(runtime.sessions, sc.jobs)
    remote = RemoteBackend(
        "http://ingest", INTERNAL_TOKEN, transport=httpx.ASGITransport(app=ingest.app)
    )

    async def judge(job: jobs.Claimed) -> JobResult:
        return posted

    worker = Worker(ANALYSIS, remote, judge, sc, TAKER)
    try:
        assert await worker.run_one()
    finally:
        await remote.aclose()
    async with runtime.sessions() as db:
        runs = list(await db.scalars(select(Analysis)))
        job = await db.scalar(select(Job).where(Job.subject_id == dialogue_id))
    assert runs == [] and worker.done == 0
    assert job is not None and (job.state, job.attempts, job.lease_owner) == ("queued", 1, None)
    assert job.last_error is not None and error in job.last_error

"""Routes for SalesControl's workers on other hosts (the speech pipeline's VAD, ASR
and analysis workers), behind their own token, SALESCONTROL_INTERNAL_TOKEN: take a
job under a lease, keep the lease, read what the job needs (a chunk's audio, a
dialogue's speech or transcript), post its result — written in the transaction
that finishes the job, or refused with the reason and the job failed — or give it
back with an error. Workers never reach the database. Without the token set every
route here is a 404: nothing internal is reachable by default."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from core.http import APIError, openapi_error_responses
from salescontrol import jobs
from salescontrol.ingest.deps import DbDep, RuntimeDep, bearer
from salescontrol.pipeline import inputs, service
from salescontrol.pipeline.inputs import NotReady
from salescontrol.pipeline.messages import ChunkAudio, DialogueSpeech, DialogueText, JobResult

INTERNAL_PREFIX = "/internal/v1"
T = TypeVar("T")


def require_worker(request: Request, runtime: RuntimeDep) -> None:
    expected = runtime.settings.env.salescontrol_internal_token
    if not expected:
        raise APIError(404, "Not found")
    if not hmac.compare_digest(bearer(request).encode(), expected.encode()):
        raise APIError(401, "A valid internal token is required")


router = APIRouter(
    prefix=INTERNAL_PREFIX, tags=["internal"], dependencies=[Depends(require_worker)]
)
ERRORS = openapi_error_responses(400, 401, 404, 409)

Worker = Annotated[str, Field(min_length=1, max_length=200, description="Who holds the lease")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimIn(_Body):
    kind: Annotated[str, Field(min_length=1, max_length=50)]
    worker: Worker
    lease_s: float = Field(default=0, ge=0, le=3600, description="0: the configured lease")


class LeaseIn(_Body):
    worker: Worker
    lease_s: float = Field(default=0, ge=0, le=3600)


class FailIn(_Body):
    worker: Worker
    error: Annotated[str, Field(min_length=1, max_length=2000)]


class JobOut(BaseModel):
    id: int
    kind: str
    subject_id: uuid.UUID
    attempts: int
    lease_expires_at: datetime


class FailedOut(BaseModel):
    state: str
    """`queued` (tried again after a backoff) or `dead` (no attempts left)."""


def _lease(runtime: RuntimeDep, requested: float) -> float:
    return requested or runtime.settings.salescontrol.jobs.lease_s


@router.post(
    "/jobs/claim",
    response_model=JobOut,
    responses={204: {"description": "Nothing to do now"}, **ERRORS},
    summary="Take the next job of a kind",
)
async def claim(body: ClaimIn, db: DbDep, runtime: RuntimeDep) -> JobOut | Response:
    job = await service.claim(db, body.kind, body.worker, _lease(runtime, body.lease_s))
    if job is None:
        return Response(status_code=204)
    return JobOut(
        id=job.id,
        kind=job.kind,
        subject_id=job.subject_id,
        attempts=job.attempts,
        lease_expires_at=job.lease_expires_at,
    )


LEASE_LOST = "This worker no longer holds the job's lease"


@router.post("/jobs/{job_id}/renew", status_code=204, responses=ERRORS, summary="Keep a lease")
async def renew(job_id: int, body: LeaseIn, db: DbDep, runtime: RuntimeDep) -> Response:
    if not await jobs.renew(db, job_id, body.worker, _lease(runtime, body.lease_s)):
        raise APIError(409, LEASE_LOST)
    return Response(status_code=204)


@router.post(
    "/jobs/{job_id}/fail", response_model=FailedOut, responses=ERRORS, summary="Give a job back"
)
async def fail(job_id: int, body: FailIn, db: DbDep, runtime: RuntimeDep) -> FailedOut:
    failed = await service.fail(db, job_id, body.worker, body.error, runtime.settings.salescontrol)
    if failed is None:
        raise APIError(409, LEASE_LOST)
    return FailedOut(state=failed.state)


class FinishIn(_Body):
    worker: Worker
    result: JobResult


@router.post(
    "/jobs/{job_id}/finish", status_code=204, responses=ERRORS, summary="Post a job's result"
)
async def finish(job_id: int, body: FinishIn, db: DbDep, runtime: RuntimeDep) -> Response:
    try:
        done = await service.finish(
            db, job_id, body.worker, body.result, runtime.settings.salescontrol
        )
    except service.ResultRefused as exc:
        raise APIError(400, str(exc)) from None
    if not done:
        raise APIError(409, LEASE_LOST)
    return Response(status_code=204)


async def _read(read: Awaitable[T]) -> T:
    try:
        return await read
    except NotReady as exc:
        raise APIError(404, str(exc)) from None


@router.get("/chunks/{chunk_id}", response_model=ChunkAudio, responses=ERRORS)
async def chunk(chunk_id: uuid.UUID, db: DbDep) -> ChunkAudio:
    info, _ = await _read(inputs.chunk_audio(db, chunk_id))
    return info


@router.get(
    "/chunks/{chunk_id}/audio",
    response_class=FileResponse,
    responses={200: {"content": {"audio/ogg": {}}}, **ERRORS},
    summary="A stored chunk's audio",
)
async def chunk_audio(chunk_id: uuid.UUID, db: DbDep, runtime: RuntimeDep) -> FileResponse:
    _, path = await _read(inputs.chunk_audio(db, chunk_id))
    return FileResponse(runtime.store.absolute(path), media_type="audio/ogg")


@router.get("/dialogues/{dialogue_id}/speech", response_model=DialogueSpeech, responses=ERRORS)
async def dialogue_speech(dialogue_id: uuid.UUID, db: DbDep) -> DialogueSpeech:
    return await _read(inputs.dialogue_speech(db, dialogue_id))


@router.get("/dialogues/{dialogue_id}/text", response_model=DialogueText, responses=ERRORS)
async def dialogue_text(dialogue_id: uuid.UUID, db: DbDep) -> DialogueText:
    return await _read(inputs.dialogue_text(db, dialogue_id))

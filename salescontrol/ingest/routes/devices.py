"""What a recorder calls, with its device token: upload a chunk, report its health."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, update

from core.http import APIError, openapi_error_responses
from salescontrol.db.models import Device
from salescontrol.ingest import metrics
from salescontrol.ingest.deps import DbDep, DeviceDep, RuntimeDep
from salescontrol.ingest.schemas import ChunkOut, Heartbeat

router = APIRouter(prefix="/devices/me", tags=["devices"])


def chunk_start(value: str) -> datetime:
    """The chunk's start as the device states it: RFC 3339 with an offset."""
    try:
        started = datetime.fromisoformat(value)
    except ValueError:
        raise APIError(400, "X-Chunk-Start must be an RFC 3339 time") from None
    if started.tzinfo is None:
        raise APIError(400, "X-Chunk-Start must carry its UTC offset (…+00:00)")
    return started


@router.put(
    "/chunks/{chunk_id}",
    response_model=ChunkOut,
    status_code=201,
    responses={
        200: {"model": ChunkOut, "description": "Already stored: the first answer"},
        **openapi_error_responses(400, 401, 403, 409, 413, 415, 503),
    },
    summary="Upload a recorded chunk (idempotent by the device's chunk id)",
)
async def upload_chunk(
    chunk_id: uuid.UUID,
    request: Request,
    device: DeviceDep,
    runtime: RuntimeDep,
    x_chunk_start: Annotated[str, Header(description="The chunk's start, RFC 3339 with offset")],
    x_chunk_sha256: Annotated[str | None, Header(description="SHA-256 of the body")] = None,
) -> JSONResponse:
    started = time.perf_counter()
    start = chunk_start(x_chunk_start)
    outcome = "error"
    try:
        # One upload of a chunk id, and one of a start, at a time in this process: a
        # second waits for the first's answer and is then a repeat (200) or a
        # conflict (409). Always the id first, so two uploads never wait in a circle.
        async with (
            runtime.uploads.hold((device.id, chunk_id)),
            runtime.uploads.hold((device.id, start)),
        ):
            accepted = await runtime.chunks.accept(
                device, chunk_id, start, x_chunk_sha256, request.stream()
            )
        outcome = "stored" if accepted.created else "repeat"
        if accepted.created:
            metrics.UPLOAD_BYTES.inc(accepted.chunk.size_bytes)
    finally:
        metrics.UPLOADS.labels(outcome=outcome).inc()
        metrics.UPLOAD_SECONDS.observe(time.perf_counter() - started)
    return JSONResponse(
        accepted.chunk.model_dump(mode="json"), status_code=201 if accepted.created else 200
    )


@router.post(
    "/heartbeat",
    status_code=204,
    responses=openapi_error_responses(400, 401, 403),
    summary="Report the recorder's health",
)
async def heartbeat(report: Heartbeat, device: DeviceDep, db: DbDep) -> Response:
    await db.execute(
        update(Device)
        .where(Device.id == device.id)
        .values(last_seen_at=func.now(), last_health=report.model_dump(mode="json"))
    )
    await db.commit()
    metrics.HEARTBEATS.inc()
    return Response(status_code=204)

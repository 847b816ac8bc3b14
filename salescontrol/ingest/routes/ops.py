"""Operational endpoints without auth: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from salescontrol.ingest.deps import RuntimeDep
from salescontrol.ingest.probe import ffprobe_path
from salescontrol.ingest.schemas import Health, Readiness

router = APIRouter(tags=["ops"])


@router.get("/health", response_model=Health, summary="Liveness")
async def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
    summary="Readiness: the database, the audio directory, ffprobe",
)
async def ready(runtime: RuntimeDep) -> JSONResponse:
    try:
        async with runtime.engine.connect() as conn:
            db = (await conn.execute(text("SELECT 1"))).scalar() == 1
    except Exception:
        db = False
    checks = {
        "db": db,
        "audio_dir": os.access(runtime.store.root, os.W_OK),
        "ffprobe": ffprobe_path() is not None,
    }
    ok = all(checks.values())
    body = Readiness(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(status_code=200 if ok else 503, content=body.model_dump())


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

"""Operational endpoints without auth: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api import metrics
from api.deps import RuntimeDep
from api.schemas import DatabaseStatus, Health, KBRetrieval, Readiness

router = APIRouter(tags=["ops"])


@router.get("/health", response_model=Health, summary="Liveness (no auth)")
async def health(runtime: RuntimeDep) -> Health:
    return Health(status="ok", model=runtime.settings.llm.model)


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
    summary="Readiness: database, LLM (reachable, model present) and KB;"
    " `kb.retrieval` says lexical, building or hybrid (never fails readiness)",
)
async def ready(runtime: RuntimeDep) -> JSONResponse:
    checks = {
        "db": await runtime.store.ping(),
        "llm": await runtime.services.llm.ping(),
        "kb": len(runtime.services.kb.current.sections) > 0,
    }
    ok = all(checks.values())
    database = DatabaseStatus.model_validate(runtime.database.status())
    current, status = runtime.kb.current, runtime.kb.status
    kb = KBRetrieval(
        retrieval=status.retrieval,
        reason=status.reason,
        sections=len(current),
        content_hash=current.content_hash[:12],
    )
    body = Readiness(status="ok" if ok else "unavailable", checks=checks, database=database, kb=kb)
    return JSONResponse(status_code=200 if ok else 503, content=body.model_dump())


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics(runtime: RuntimeDep) -> Response:
    metrics.ACTIVE_CONVERSATIONS.set(await runtime.store.active_conversations())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

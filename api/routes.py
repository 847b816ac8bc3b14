"""HTTP routes: the n8n turn endpoint, customer profiles, health, readiness and
metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import AuthDep, Runtime, RuntimeDep
from api.errors import APIError, openapi_error_responses
from api.kb_reload import reload_kb
from api.logs import hash_id
from api.schemas import (
    Health,
    KBReloaded,
    Meta,
    ProcessRequest,
    ProcessResponse,
    ProfileResponse,
    Readiness,
    SafeId,
)
from graph import metrics
from graph.llm import LLMUnavailable
from graph.turn import TurnResult, run_turn
from kb import KBError

log = logging.getLogger("salesbot.api")
router = APIRouter()


def _meta(result: TurnResult, runtime: Runtime, started: float) -> Meta:
    return Meta(
        model=runtime.settings.llm.model,
        processing_ms=int((time.perf_counter() - started) * 1000),
        kb_used=result.kb_used,
        phase=result.phase,
        intent=result.intent,
        handoff=result.handoff,
        outcome=result.outcome,
        turn=result.turn,
    )


def _check_rate(runtime: Runtime, api_key: str, customer: tuple[str, str]) -> None:
    for limiter, key in (
        (runtime.key_limiter, hash_id(api_key, runtime.api_key)),
        (runtime.customer_limiter, customer),
    ):
        allowed, retry_after = limiter.allow(key)
        if not allowed:
            raise APIError(
                429,
                "Too many requests, retry later",
                headers={"Retry-After": str(max(1, int(retry_after + 0.999)))},
            )


@router.post(
    "/api/v1/process",
    response_model=ProcessResponse,
    responses=openapi_error_responses(400, 401, 413, 429, 500, 503),
    summary="Answer the customer's latest message",
)
async def process(body: ProcessRequest, runtime: RuntimeDep, api_key: AuthDep) -> ProcessResponse:
    started = time.perf_counter()
    settings = runtime.settings
    text = body.message.text.strip()
    if not text:
        raise APIError(400, "message.text is empty")
    if len(text) > settings.api.max_text_chars:
        raise APIError(400, f"message.text is longer than {settings.api.max_text_chars} characters")
    customer = (body.session_id, body.user_id)
    _check_rate(runtime, api_key, customer)

    log_fields: dict[str, Any] = {
        "request_id": body.request_id,
        "session": hash_id(body.session_id, runtime.api_key),
        "user": hash_id(body.user_id, runtime.api_key),
        "channel": body.channel,
    }
    # The budget bounds the whole answer time the runbook promises (≤ 30-45 s),
    # so waiting for this customer's previous turn counts towards it too.
    deadline = asyncio.get_running_loop().time() + settings.api.turn_budget_s
    metrics.IN_FLIGHT.inc()
    try:
        # One turn at a time per customer: the second of two quick messages sees
        # the first one's answer in its history. A retried request_id waits here
        # for the original and then finds its stored answer.
        async with runtime.locks.hold(customer, deadline):
            if body.request_id:
                stored = await runtime.store.stored_response(
                    *customer, body.request_id, settings.api.idempotency_ttl_s
                )
                if stored is not None:
                    log.info("turn replayed", extra={**log_fields, "status": 200})
                    return ProcessResponse.model_validate(stored)
            try:
                async with asyncio.timeout_at(deadline):
                    result = await run_turn(
                        runtime.graph_for(body.session_id, body.user_id),
                        runtime.services,
                        body.session_id,
                        body.user_id,
                        text,
                        body.message.timestamp_ms,
                        # A retry of a failed turn replaces the message it left.
                        message_id=f"request:{body.request_id}" if body.request_id else None,
                    )
            except LLMUnavailable as exc:
                log.warning(
                    "llm unavailable", extra={**log_fields, "status": 503, "reason": str(exc)}
                )
                raise APIError(503, "The language model is unavailable, retry later") from None
            except TimeoutError:
                log.warning("turn budget exceeded", extra={**log_fields, "status": 503})
                raise APIError(503, "The turn took longer than its time budget") from None
            response = ProcessResponse(answer=result.answer, meta=_meta(result, runtime, started))
            await runtime.store.record_turn(
                body.session_id,
                body.user_id,
                result,
                body.request_id,
                response.model_dump(mode="json"),
            )
    except TimeoutError:
        # Only the wait for the lock ends up here: the turn's own timeout is
        # answered inside. n8n retries a 503 with the same request_id.
        log.warning("previous turn still running", extra={**log_fields, "status": 503})
        raise APIError(
            503, "The customer's previous message is still being answered, retry later"
        ) from None
    finally:
        metrics.IN_FLIGHT.dec()
    metrics.TURN_LATENCY.observe(time.perf_counter() - started)
    extra = {
        **log_fields,
        "status": 200,
        "processing_ms": response.meta.processing_ms,
        "intent": result.intent,
        "phase": result.phase,
        "outcome": result.outcome,
        "handoff": result.handoff,
        "kb_used": result.kb_used,
        "llm_calls": result.llm_calls,
        "guard_violations": result.guard_violations,
    }
    if settings.env.log_conversation_text:
        extra.update(text=text, answer=result.answer)
    log.info("turn", extra=extra)
    return response


@router.get(
    "/api/v1/users/{user_id}/profile",
    response_model=ProfileResponse,
    responses=openapi_error_responses(400, 401, 404),
    summary="What the bot has learned about a customer, per bot account",
)
async def profile(user_id: SafeId, runtime: RuntimeDep, _: AuthDep) -> ProfileResponse:
    profiles = await runtime.store.profiles_of(user_id)
    if not profiles:
        raise APIError(404, "Profile not found")
    return ProfileResponse.model_validate({"user_id": user_id, "profiles": profiles})


@router.post(
    "/api/v1/admin/kb/reload",
    response_model=KBReloaded,
    responses=openapi_error_responses(400, 401),
    summary="Re-read the knowledge base without a restart (also: SIGHUP)",
)
async def reload_knowledge_base(runtime: RuntimeDep, _: AuthDep) -> KBReloaded:
    try:
        kb = await reload_kb(runtime.kb)
    except KBError as exc:
        current = runtime.kb.current.content_hash[:12]
        first = "; ".join(exc.errors[:3])
        raise APIError(
            400, f"KB is invalid ({len(exc.errors)} errors, still serving {current}): {first}"
        ) from None
    return KBReloaded(status="reloaded", sections=len(kb.sections), content_hash=kb.content_hash)


@router.get("/health", response_model=Health, summary="Liveness (no auth)")
async def health(runtime: RuntimeDep) -> Health:
    return Health(status="ok", model=runtime.settings.llm.model)


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness}},
    summary="Readiness: database, LLM (reachable, model present) and KB",
)
async def ready(runtime: RuntimeDep) -> JSONResponse:
    checks = {
        "db": await runtime.store.ping(),
        "llm": await runtime.services.llm.ping(),
        "kb": len(runtime.services.kb.current.sections) > 0,
    }
    ok = all(checks.values())
    body = Readiness(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(status_code=200 if ok else 503, content=body.model_dump())


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics(runtime: RuntimeDep) -> Response:
    metrics.ACTIVE_CONVERSATIONS.set(await runtime.store.active_conversations())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

"""`POST /process`: one turn of the customer's conversation, as n8n calls it.

A turn is answered once per request_id: a retry waits for the original under
the customer's lock and then finds its stored answer. One turn runs at a time
per customer, within `api.turn_budget_s` of the request's arrival (the wait for
the customer's previous turn included).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter

from api import metrics
from api.concurrency import LockTimeout
from api.deps import AuthDep, RuntimeDep
from api.runtime import Runtime
from api.schemas import Meta, ProcessRequest, ProcessResponse
from core.http import APIError, openapi_error_responses
from core.llm import LLMUnavailable
from core.logs import hash_id
from graph.turn import TurnResult, run_turn

log = logging.getLogger("salesbot.api")
router = APIRouter(tags=["turns"])

Customer = tuple[str, str]


def _message_text(body: ProcessRequest, max_chars: int) -> str:
    text = body.message.text.strip()
    if not text:
        raise APIError(400, "message.text is empty")
    if len(text) > max_chars:
        raise APIError(400, f"message.text is longer than {max_chars} characters")
    return text


def _check_rate(runtime: Runtime, api_key: str, customer: Customer) -> None:
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


def _log_fields(body: ProcessRequest, key: str) -> dict[str, Any]:
    """What every log line of the turn carries: ids as keyed hashes, never raw."""
    return {
        "request_id": body.request_id,
        "session": hash_id(body.session_id, key),
        "user": hash_id(body.user_id, key),
        "channel": body.channel,
    }


async def _run(
    runtime: Runtime, body: ProcessRequest, text: str, deadline: float, fields: dict[str, Any]
) -> TurnResult:
    """The graph's turn within the deadline; a failure is a 503 that n8n retries."""
    try:
        async with asyncio.timeout_at(deadline):
            return await run_turn(
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
        log.warning("llm unavailable", extra={**fields, "status": 503, "reason": str(exc)})
        raise APIError(503, "The language model is unavailable, retry later") from None
    except TimeoutError:
        log.warning("turn budget exceeded", extra={**fields, "status": 503})
        raise APIError(503, "The turn took longer than its time budget") from None


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


def _log_turn(
    fields: dict[str, Any],
    text: str,
    response: ProcessResponse,
    result: TurnResult,
    runtime: Runtime,
) -> None:
    extra = {
        **fields,
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
    if runtime.settings.env.log_conversation_text:
        extra.update(text=text, answer=result.answer)
    log.info("turn", extra=extra)


@router.post(
    "/process",
    response_model=ProcessResponse,
    responses=openapi_error_responses(400, 401, 413, 429, 500, 503),
    summary="Answer the customer's latest message",
)
async def process(body: ProcessRequest, runtime: RuntimeDep, api_key: AuthDep) -> ProcessResponse:
    started = time.perf_counter()
    settings = runtime.settings
    text = _message_text(body, settings.api.max_text_chars)
    customer: Customer = (body.session_id, body.user_id)
    _check_rate(runtime, api_key, customer)
    fields = _log_fields(body, runtime.api_key)
    deadline = asyncio.get_running_loop().time() + settings.api.turn_budget_s
    metrics.IN_FLIGHT.inc()
    try:
        # One turn at a time per customer: the second of two quick messages sees
        # the first one's answer in its history.
        async with runtime.locks.hold(customer, deadline):
            if body.request_id:
                stored = await runtime.store.stored_response(
                    *customer, body.request_id, settings.api.idempotency_ttl_s
                )
                if stored is not None:
                    log.info("turn replayed", extra={**fields, "status": 200})
                    return ProcessResponse.model_validate(stored)
            result = await _run(runtime, body, text, deadline, fields)
            response = ProcessResponse(answer=result.answer, meta=_meta(result, runtime, started))
            await runtime.store.record_turn(
                *customer, result, body.request_id, response.model_dump(mode="json")
            )
    except LockTimeout:
        # n8n retries a 503 with the same request_id; this message was not kept.
        log.warning("previous turn still running", extra={**fields, "status": 503})
        raise APIError(
            503, "The customer's previous message is still being answered, retry later"
        ) from None
    finally:
        metrics.IN_FLIGHT.dec()
    metrics.TURN_LATENCY.observe(time.perf_counter() - started)
    _log_turn(fields, text, response, result, runtime)
    return response

"""`POST /process`: one turn of the customer's conversation, as n8n calls it.

Every request gets exactly one of: the answer of the turn that answered its
message (api.delivery: also on a retry, also when one turn answered several
messages), a 503 to retry, or a final 4xx. One turn runs at a time per
customer, within `api.turn_budget_s` of the request's arrival (the wait for the
customer's previous turn included).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter

from api import metrics
from api.delivery import (
    IdempotencyConflict,
    MessageKey,
    RequestTaken,
    answered_requests,
    catch_up,
    claimed,
    message_key,
    recall,
    replayed,
    response_of,
)
from api.deps import AuthDep, RuntimeDep
from api.runtime import Runtime
from api.schemas import ProcessRequest, ProcessResponse
from api.unavailable import RETRY_BUSY_S
from core.concurrency import LockTimeout
from core.http import APIError, openapi_error_responses, retry_after
from core.llm import LLMUnavailable
from core.logs import bind, hash_id
from graph.threads import thread_id_for
from graph.turn import TurnResult, read_thread, run_turn

log = logging.getLogger("salesbot.api")
router = APIRouter(tags=["turns"])

Customer = tuple[str, str]
# Seconds a client is told to wait before it retries a 503 (the model's trouble;
# a busy lock or database: api.unavailable.RETRY_BUSY_S).
RETRY_MODEL_S = 5


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
        allowed, wait = limiter.allow(key)
        if not allowed:
            raise APIError(429, "Too many requests, retry later", headers=retry_after(wait))


def unavailable(message: str, seconds: float) -> APIError:
    return APIError(503, message, headers=retry_after(seconds))


async def _stored(runtime: Runtime, customer: Customer, key: MessageKey) -> ProcessResponse | None:
    if key.request is None:
        return None
    stored = await runtime.store.stored_response(
        *customer, key.request, runtime.settings.api.idempotency_ttl_s
    )
    return replayed(stored, key) if stored is not None else None


async def _run(
    runtime: Runtime, body: ProcessRequest, text: str, key: MessageKey, deadline: float
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
                message_id=key.message_id,
            )
    except LLMUnavailable as exc:
        bind(reason="llm unavailable", detail=str(exc))
        raise unavailable("The language model is unavailable, retry later", RETRY_MODEL_S) from None
    except TimeoutError:
        bind(reason="turn budget exceeded")
        raise unavailable("The turn took longer than its time budget", RETRY_MODEL_S) from None


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _log_turn(text: str, response: ProcessResponse, result: TurnResult, runtime: Runtime) -> None:
    extra: dict[str, Any] = {
        "status": 200,
        "processing_ms": response.meta.processing_ms,
        "intent": result.intent,
        "phase": result.phase,
        "outcome": result.outcome,
        "handoff": result.handoff,
        "kb_used": result.kb_used,
        "llm_calls": result.llm_calls,
        "answered_messages": len(result.answered),
        "guard_violations": result.guard_violations,
    }
    if runtime.settings.env.log_conversation_text:
        extra.update(text=text, answer=result.answer)
    log.info("turn", extra=extra)


async def _answer(
    runtime: Runtime,
    body: ProcessRequest,
    text: str,
    key: MessageKey,
    started: float,
    deadline: float,
) -> ProcessResponse:
    """Under the customer's lock: the stored or checkpointed answer of a retry, or
    a new turn and its record."""
    customer: Customer = (body.session_id, body.user_id)
    settings = runtime.settings
    stored = await _stored(runtime, customer, key)
    if stored is not None:
        log.info("turn replayed", extra={"status": 200, "from": "store"})
        return stored
    if not runtime.in_sync.holds(customer):
        # The tables may be behind the thread (this process has not seen the
        # customer's last request through): the thread tells what happened.
        state = await read_thread(runtime.graph_for(*customer), *customer)
        await catch_up(runtime.store, *customer, state, settings.llm.model)
        reply = recall(state, key, text, settings.api.idempotency_ttl_s)
        if reply is not None:
            log.info("turn replayed", extra={"status": 200, "from": "thread"})
            return response_of(reply, settings.llm.model, _elapsed_ms(started))
    runtime.in_sync.forget(customer)  # until this turn is recorded
    budget_s = deadline - asyncio.get_running_loop().time()
    async with claimed(runtime.store, customer, key, budget_s):
        result = await _run(runtime, body, text, key, deadline)
        response = response_of(result.reply, settings.llm.model, _elapsed_ms(started))
        await runtime.store.record_turn(
            *customer, result, answered_requests(result.answered), response.model_dump(mode="json")
        )
    runtime.in_sync.add(customer)
    metrics.TURN_LATENCY.observe(time.perf_counter() - started)
    _log_turn(text, response, result, runtime)
    return response


@router.post(
    "/process",
    response_model=ProcessResponse,
    responses=openapi_error_responses(400, 401, 409, 413, 429, 500, 503),
    summary="Answer the customer's latest message",
)
async def process(body: ProcessRequest, runtime: RuntimeDep, api_key: AuthDep) -> ProcessResponse:
    started = time.perf_counter()
    text = _message_text(body, runtime.settings.api.max_text_chars)
    customer: Customer = (body.session_id, body.user_id)
    key = message_key(body, text)
    # The budget bounds the whole answer time the runbook promises (≤ 30-45 s),
    # so waiting for this customer's previous turn counts towards it too.
    deadline = asyncio.get_running_loop().time() + runtime.settings.api.turn_budget_s
    bind(
        request_id=body.request_id,
        session=hash_id(body.session_id, runtime.api_key),
        user=hash_id(body.user_id, runtime.api_key),
        channel=body.channel,
    )
    metrics.IN_FLIGHT.inc()
    try:
        # A busy or unreachable database is a 503 too (api.unavailable).
        # An answered request costs no rate-limit slot and waits for nothing.
        stored = await _stored(runtime, customer, key)
        if stored is not None:
            log.info("turn replayed", extra={"status": 200, "from": "store"})
            return stored
        _check_rate(runtime, api_key, customer)
        # One turn at a time per customer: the second of two quick messages
        # sees the first one's answer in its history.
        async with runtime.locks.hold(thread_id_for(*customer), deadline):
            return await _answer(runtime, body, text, key, started, deadline)
    except IdempotencyConflict:
        raise APIError(
            409, "This request_id was already used for a message with another text"
        ) from None
    except (LockTimeout, RequestTaken) as exc:
        # n8n retries a 503 with the same request_id; this message was not kept.
        # RequestTaken: another instance runs this very request (its lock was lost).
        bind(reason="claimed elsewhere" if isinstance(exc, RequestTaken) else "lock wait")
        raise unavailable(
            "The customer's previous message is still being answered, retry later", RETRY_BUSY_S
        ) from None
    finally:
        metrics.IN_FLIGHT.dec()

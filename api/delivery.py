"""Exactly-once delivery of customer messages (README, "Delivery semantics").

A customer's message is identified by its `request_id`; without one, by its
`message.timestamp_ms` and text together; without a timestamp either, by its text
while it waits for an answer. It enters the conversation once: a retry of a
failed turn replaces the copy the failed turn left (the thread names messages
by these ids), and a retry of an answered one gets the answer the message got,
also when one turn answered it together with others.

Where the answer is looked up: `processed_requests` first (fast, and kept
`api.idempotency_ttl_s`), then the thread's checkpoint, which holds each recent
message's reply (graph.state.Reply) written in the same step as the answer. The
checkpoint is the truth; when a crash fell between it and the tables, `catch_up`
writes the tables from it.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from langchain_core.messages import HumanMessage

from api.schemas import Meta, ProcessRequest, ProcessResponse
from api.store import Store, StoredResponse
from graph.state import Reply, SalesState, message_text
from graph.turn import result_of

_REQUEST, _AUTO, _TEXT = "request:", "auto:", "text:"
DERIVED = "~"
"""Prefix of the request key derived from timestamp and text: `~` is not allowed
in a request_id, so it never meets one."""


class InSync:
    """Customers whose tables this process has seen agree with their thread: the
    last request it handled for them ended with the turn recorded. For them a
    message missing from processed_requests is new, and the thread need not be
    read first; for anyone else (after a restart, after a failed turn) it is. A
    bounded set: a customer dropped from it is only read once more."""

    def __init__(self, limit: int = 100_000):
        self.limit = limit
        self._customers: OrderedDict[Hashable, None] = OrderedDict()

    def holds(self, customer: Hashable) -> bool:
        return customer in self._customers

    def add(self, customer: Hashable) -> None:
        self._customers[customer] = None
        self._customers.move_to_end(customer)
        if len(self._customers) > self.limit:
            self._customers.popitem(last=False)

    def forget(self, customer: Hashable) -> None:
        self._customers.pop(customer, None)


class IdempotencyConflict(Exception):
    """A request_id (or its derived key) already names a message with other words."""


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def fingerprint(text: str) -> str:
    """What the stored answer of a request remembers of its message."""
    return _digest(text, 16)


@dataclass(frozen=True, slots=True)
class MessageKey:
    message_id: str
    """The customer message's id in the thread."""
    request: str | None
    """Its key in processed_requests; None when only its text identifies it."""
    fingerprint: str


def message_key(body: ProcessRequest, text: str) -> MessageKey:
    mark = fingerprint(text)
    if body.request_id:
        return MessageKey(_REQUEST + body.request_id, body.request_id, mark)
    if body.message.timestamp_ms is not None:
        derived = _digest(f"{body.message.timestamp_ms}|{text}", 24)
        return MessageKey(_AUTO + derived, DERIVED + derived, mark)
    return MessageKey(_TEXT + mark, None, mark)


def request_of(message_id: str) -> str | None:
    """The processed_requests key of a message id (None for text-only ones)."""
    if message_id.startswith(_REQUEST):
        return message_id.removeprefix(_REQUEST)
    if message_id.startswith(_AUTO):
        return DERIVED + message_id.removeprefix(_AUTO)
    return None


def replayed(stored: StoredResponse, key: MessageKey) -> ProcessResponse:
    """The stored answer of the request, if the request still says what it said."""
    if stored.fingerprint not in (None, key.fingerprint):
        raise IdempotencyConflict
    return ProcessResponse.model_validate(stored.response)


def recall(state: SalesState, key: MessageKey, text: str, ttl_s: float) -> Reply | None:
    """The reply the thread holds for this message, when the request is a retry of
    an answered one; None when a turn has to run (a new message, one a failed turn
    left waiting, or one answered longer than `ttl_s` ago, which is new again)."""
    message = next(
        (
            m
            for m in state.get("messages", [])
            if isinstance(m, HumanMessage) and m.id == key.message_id
        ),
        None,
    )
    if message is None:
        return None
    reply = state.get("replies", {}).get(key.message_id)
    if reply is not None and (key.request is None or time.time() - reply["at"] > ttl_s):
        return None  # the same words again, or an old id used anew: a new message
    if message_text(message) != text:
        raise IdempotencyConflict
    return reply


def response_of(reply: Reply, model: str, processing_ms: int) -> ProcessResponse:
    meta = Meta(
        model=model,
        processing_ms=processing_ms,
        kb_used=reply["kb_used"],
        phase=reply["phase"],
        intent=reply["intent"],
        handoff=reply["handoff"],
        outcome=reply["outcome"],
        turn=reply["turn"],
    )
    return ProcessResponse(answer=reply["answer"], meta=meta)


def answered_requests(answered: Mapping[str, str]) -> dict[str, str]:
    """processed_requests keys → fingerprints of the messages (id → text) a turn
    answered; messages only their text identifies are not stored."""
    return {
        request: fingerprint(text)
        for message_id, text in answered.items()
        if (request := request_of(message_id)) is not None
    }


class RequestTaken(Exception):
    """Another instance holds a live claim on the request: its turn is running."""


CLAIM_MARGIN_S = 10.0
"""A claim outlives its turn's deadline by this much (the record after the turn,
clocks of two hosts a little apart); after it, a retry may take the request."""


@asynccontextmanager
async def claimed(
    store: Store, customer: tuple[str, str], key: MessageKey, budget_s: float
) -> AsyncIterator[None]:
    """The request taken for the turn about to run (api.store.base.Store.claim),
    given up when the turn is done (recorded: the answer is stored by then) or
    failed (the retry may run it at once). Messages without a request key are
    identified by their text in the thread, and have no claim."""
    if key.request is None:
        yield
        return
    owner = uuid.uuid4().hex
    if not await store.claim(
        *customer, key.request, owner, time.time() + budget_s + CLAIM_MARGIN_S
    ):
        raise RequestTaken
    try:
        yield
    finally:
        # A claim that cannot be given up (the database went away) expires.
        with suppress(Exception):
            await store.release(*customer, key.request, owner)


async def catch_up(
    store: Store, session_id: str, user_id: str, state: SalesState, model: str
) -> None:
    """Write the tables from the thread when they are behind it: a crash came
    between a turn's checkpoint and its record."""
    result = result_of(state)
    if result.turn <= await store.recorded_turns(session_id, user_id):
        return
    response = response_of(result.reply, model, 0)
    await store.record_turn(
        session_id,
        user_id,
        result,
        answered_requests(result.answered),
        response.model_dump(mode="json"),
    )

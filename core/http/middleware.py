"""ASGI middleware in front of every route: a body-size limit, a last-resort 500
that never prints the exception, error counting for Prometheus, and per-request
log fields."""

from __future__ import annotations

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.http.errors import STATUS_CODES, error_response, log_unexpected
from core.logs import begin_context, end_context

MAX_BODY_BYTES = 1024 * 1024


class BodySizeLimit:
    """413 for bodies over the limit, whether declared (Content-Length) or streamed.

    A chunked body is read here, up to the limit, and replayed to the app: the
    limit is checked before any parsing, and a body within it costs one copy.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_response(413, f"Request body is larger than {self._limit_text()}")
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > self.limit:
                await too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    def _limit_text(self) -> str:
        mb = self.limit / (1024 * 1024)
        return f"{mb:g} MB" if mb >= 1 else f"{self.limit} bytes"


class CatchAll:
    """Answers 500 INTERNAL for any unhandled exception and does not re-raise it:
    the server's own error log would print the exception message, which may
    quote customer text."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log_unexpected(exc)
            if not started:
                await error_response(500, "Internal error")(scope, receive, send)


class CountErrors:
    """Counts every error response by its code (one code per status), whichever
    layer answered it: a route, a handler, or the middleware above."""

    def __init__(self, app: ASGIApp, counter: Counter):
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                code = STATUS_CODES.get(message["status"], "INTERNAL")
                self.counter.labels(code=code).inc()
            await send(message)

        await self.app(scope, receive, counting_send)


class LogContext:
    """Gives every request its own log fields (core.logs.bind), so that each line
    logged while it is handled, an unhandled error's included, says which request
    it belongs to."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = begin_context()
        try:
            await self.app(scope, receive, send)
        finally:
            end_context(token)

"""ASGI middleware in front of every route: a body-size limit, a last-resort 500
that never prints the exception, error counting for Prometheus, a log line per
error response, and per-request log fields."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import Counter
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.http.errors import STATUS_CODES, error_response, log_unexpected
from core.logs import begin_context, end_context

log = logging.getLogger("http")

_UNLOGGED = "error_unlogged"
_ERROR_BODY_BYTES = 16 * 1024
"""An error body is a few hundred bytes; what is read of one to log its code."""

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


def leave_unlogged(request: Request) -> None:
    """Keep this request's error response out of the log (LogErrors): one of a
    flood whose first is logged already."""
    setattr(request.state, _UNLOGGED, True)


class _Routes:
    """The app's route templates, for naming the route of a request in a log."""

    def __init__(self, templates: Iterable[str]):
        self._patterns = [(self._pattern(t), t) for t in templates]
        self._words = {w for t in templates for w in t.split("/") if not w.startswith("{")}

    @staticmethod
    def _pattern(template: str) -> re.Pattern[str]:
        parts = ("[^/]+" if p.startswith("{") else re.escape(p) for p in template.split("/"))
        return re.compile("/".join(parts))

    def name(self, path: str) -> str:
        """The template `path` matches; for no route, `path` with what is not a
        word of the app's routes as "-" (it may be an id, a phone)."""
        for pattern, template in self._patterns:
            if pattern.fullmatch(path):
                return template
        return "/".join(w if not w or w in self._words else "-" for w in path.split("/"))


class LogErrors:
    """One log line per error response, whichever layer answered it: method, the
    route's template (never the raw path, which may hold a customer's id),
    status, error code and message (the API's own, which never quote a request),
    duration and the client's address, with the request's log fields (core.logs:
    ids as HMACs, the reason a route bound). Never a request's body or headers.
    4xx at INFO, 5xx at WARNING.

    `templates` gives the app's route templates when first needed (its OpenAPI
    paths: the routes are all in place by then)."""

    def __init__(self, app: ASGIApp, templates: Callable[[], Iterable[str]]):
        self.app = app
        self._templates = templates
        self._routes: _Routes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        body = bytearray()

        async def reading_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status >= 400:
                body.extend(message.get("body", b"")[: _ERROR_BODY_BYTES - len(body)])
            await send(message)

        await self.app(scope, receive, reading_send)
        if status < 400 or scope.get("state", {}).get(_UNLOGGED):
            return
        if self._routes is None:
            self._routes = _Routes(list(self._templates()))
        code, message = _error_of(status, bytes(body))
        log.log(
            logging.WARNING if status >= 500 else logging.INFO,
            "error response",
            extra={
                "method": scope["method"],
                "route": self._routes.name(scope["path"]),
                "status": status,
                "code": code,
                "error": message,
                "duration_ms": int((time.perf_counter() - started) * 1000),
                "client": (scope.get("client") or ("unknown",))[0],
            },
        )


def _error_of(status: int, body: bytes) -> tuple[str, str | None]:
    """The code and message of an error body, or the status's code alone."""
    try:
        error: Any = json.loads(body)["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, TypeError, KeyError):
        return STATUS_CODES.get(status, "INTERNAL"), None


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

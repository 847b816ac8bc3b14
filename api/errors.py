"""The one error shape of the API: `{"error": {"code", "message"}}` with a non-2xx
status. FastAPI's own 422 and HTML-ish defaults never reach a client."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from graph import metrics

log = logging.getLogger("salesbot.api")

STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "BAD_REQUEST",
    413: "PAYLOAD_TOO_LARGE",
    415: "BAD_REQUEST",
    429: "RATE_LIMIT",
    503: "SERVICE_UNAVAILABLE",
    500: "INTERNAL",
}


class APIError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = STATUS_CODES.get(status, "INTERNAL")
        self.message = message
        self.headers = headers


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    code = STATUS_CODES.get(status, "INTERNAL")
    metrics.ERRORS.labels(code=code).inc()
    return JSONResponse(
        status_code=status, content={"error": {"code": code, "message": message}}, headers=headers
    )


def _describe_validation(exc: RequestValidationError) -> str:
    """A short, safe description: field paths and reasons, never the input values."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        kind = err.get("type", "")
        if kind == "json_invalid":
            return "Request body is not valid JSON"
        if kind == "missing":
            parts.append(f"{loc}: required")
        elif kind == "string_pattern_mismatch":
            parts.append(f"{loc}: must be 1-128 characters of letters, digits and _.:@+-")
        else:
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "Invalid request"


def log_unexpected(exc: BaseException) -> None:
    """The type and the failing line only: an exception message may quote customer
    text, which the logs never carry."""
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f"{frame.filename}:{frame.lineno}" if frame else "?"
    log.error("unhandled error", extra={"error_type": type(exc).__name__, "where": where})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        from api.deps import request_has_valid_key

        # FastAPI rejects a body that is not JSON before the auth dependency
        # runs; a caller without a valid key still gets 401, as for any other body.
        if request.url.path.startswith("/api/v1/") and not request_has_valid_key(request):
            return error_response(401, "Invalid API key")
        return error_response(400, _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code if exc.status_code in STATUS_CODES else 500
        message = {404: "Not found", 405: "Method not allowed"}.get(status, str(exc.detail))
        return error_response(status, message)


def openapi_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    from api.schemas import ErrorResponse

    return {status: {"model": ErrorResponse} for status in statuses}

"""The one error shape of the APIs: `{"error": {"code", "message"}}` with a non-2xx
status, one code per status. FastAPI's own 422 and default bodies never reach a
client."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from typing import Any, Literal, get_args

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("http")

ErrorCode = Literal[
    "BAD_REQUEST",
    "UNAUTHORIZED",
    "FORBIDDEN",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "CONFLICT",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "RATE_LIMIT",
    "INTERNAL",
    "SERVICE_UNAVAILABLE",
]
STATUS_CODES: dict[int, ErrorCode] = dict(
    zip(
        (400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503),
        get_args(ErrorCode),
        strict=True,
    )
)


class ErrorDetail(BaseModel):
    code: ErrorCode
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class APIError(Exception):
    """Raised by a route: answered as the error body with `status`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def retry_after(seconds: float) -> dict[str, str]:
    """The Retry-After header of a 429 or 503: whole seconds, at least one."""
    return {"Retry-After": str(max(1, int(seconds + 0.999)))}


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    code = STATUS_CODES.get(status, "INTERNAL")
    return JSONResponse(
        status_code=status if status in STATUS_CODES else 500,
        content={"error": {"code": code, "message": message}},
        headers=headers,
    )


def _describe_validation(request: Request, exc: RequestValidationError) -> str:
    """A short, safe description: field paths and reasons, never the input values."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        kind = err.get("type", "")
        if kind == "json_invalid":
            return "Request body is not valid JSON"
        if not loc and kind in {"model_attributes_type", "dict_type", "missing"}:
            # The body as a whole: an array, a string, a form post, nothing.
            received = request.headers.get("content-type") or "none"
            return (
                "Request body must be a JSON object sent with Content-Type: "
                f"application/json (received Content-Type: {received})"
            )
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


_HTTP_MESSAGES = {404: "Not found", 405: "Method not allowed"}


def install_error_handlers(
    app: FastAPI, *, refuse: Callable[[Request], APIError | None] | None = None
) -> None:
    """Every error as the one shape, and the OpenAPI document saying so (a 400
    where FastAPI would list its 422). `refuse(request)`, when given, is asked
    before a validation error is described: FastAPI validates a body before the
    auth dependency runs, and a caller without a valid key gets its 401 (or 429)
    whatever it sent."""
    _document_validation_as_400(app)

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        refusal = refuse(request) if refuse is not None else None
        if refusal is not None:
            return error_response(refusal.status, refusal.message, refusal.headers)
        return error_response(400, _describe_validation(request, exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code if exc.status_code in STATUS_CODES else 500
        message = _HTTP_MESSAGES.get(status, str(exc.detail))
        headers = dict(exc.headers or {})
        return error_response(status, message, headers or None)


_ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorResponse"}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _document_validation_as_400(app: FastAPI) -> None:
    """The OpenAPI document as the handlers answer: FastAPI lists a 422 with its
    own body (`{"detail": …}`) for every route that validates its input, which
    here is a 400 in the error shape; so the 422 becomes that 400, and FastAPI's
    validation schemas, then unused, are dropped."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _replace_422(generate())  # the document FastAPI caches, changed once
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _replace_422(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if not responses or responses.pop("422", None) is None or "400" in responses:
                continue
            responses["400"] = {
                "description": "Bad Request",
                "content": {"application/json": {"schema": _ERROR_SCHEMA}},
            }
            operation["responses"] = dict(sorted(responses.items()))
            if "ErrorResponse" not in schemas:
                model = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(model.pop("$defs", {}))
                schemas["ErrorResponse"] = model
    rest = {k: v for k, v in schemas.items() if k not in _FASTAPI_VALIDATION_SCHEMAS}
    used = json.dumps({**document, "components": {**document["components"], "schemas": rest}})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        if f'"#/components/schemas/{name}"' not in used:
            schemas.pop(name, None)


def openapi_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that may answer these error statuses."""
    return {status: {"model": ErrorResponse} for status in statuses}

"""The HTTP error model (`{"error": {"code", "message"}}`), its exception handlers,
and the ASGI middleware every service here puts in front of its routes."""

from core.http.app import Lifespan, install_middleware, new_app
from core.http.errors import (
    STATUS_CODES,
    APIError,
    ErrorResponse,
    error_response,
    install_error_handlers,
    log_unexpected,
    openapi_error_responses,
    retry_after,
)
from core.http.middleware import (
    BodySizeLimit,
    CatchAll,
    CountErrors,
    LogContext,
    LogErrors,
    leave_unlogged,
)

__all__ = [
    "STATUS_CODES",
    "APIError",
    "BodySizeLimit",
    "CatchAll",
    "CountErrors",
    "ErrorResponse",
    "Lifespan",
    "LogContext",
    "LogErrors",
    "error_response",
    "install_error_handlers",
    "install_middleware",
    "leave_unlogged",
    "log_unexpected",
    "new_app",
    "openapi_error_responses",
    "retry_after",
]

"""Request dependencies: the application runtime and API-key authentication."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from api.runtime import Runtime
from core.http import APIError, leave_unlogged, retry_after


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


# Declares the scheme in the OpenAPI document; the check itself is ours, so a
# missing or wrong key gets the contract's 401 body rather than FastAPI's 403.
bearer_scheme = HTTPBearer(auto_error=False, description="The API_KEY of the service")


def key_matches(token: str, api_key: str) -> bool:
    # compare_digest on bytes: constant time, and no TypeError on non-ASCII input.
    return bool(token) and hmac.compare_digest(token.encode(), api_key.encode())


def _client(request: Request) -> str:
    # uvicorn puts the client X-Forwarded-For names there when the peer is a
    # trusted proxy (FORWARDED_ALLOW_IPS: nginx); otherwise the peer itself.
    return request.client.host if request.client else "unknown"


def refused(request: Request, token: str) -> APIError | None:
    """Why a request's Bearer `token` is refused, or None for the service's key.

    The service's key always passes. Wrong keys count per client address: past
    `rate_limit.failed_auth_per_minute` a further wrong key from that address is
    a 429 until the minute has passed, logged once a minute per address: a flood
    of wrong keys stays cheap and out of the journal. It cannot lock out whoever
    holds the key, even when all clients share one address (a proxy not listed
    in FORWARDED_ALLOW_IPS). Guessing stays hopeless: the key is long and
    compared in constant time."""
    runtime: Runtime = request.app.state.runtime
    if key_matches(token, runtime.api_key):
        return None
    address = _client(request)
    wait = runtime.auth_failures.exhausted(address)
    if wait is not None:
        logged, _ = runtime.auth_refusals_logged.allow(address)
        if not logged:
            leave_unlogged(request)  # a flood of wrong keys is one line a minute
        return APIError(429, "Too many wrong API keys from this address", retry_after(wait))
    runtime.auth_failures.allow(address)
    return APIError(401, "Invalid API key")


def refused_before_validation(request: Request) -> APIError | None:
    """`refused` for error handlers that run before dependencies do (a body that
    fails validation): a caller without the key learns nothing about the body."""
    if not request.url.path.startswith("/api/"):
        return None
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    return refused(request, token.strip() if scheme.lower() == "bearer" else "")


def require_api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str:
    token = credentials.credentials.strip() if credentials else ""
    error = refused(request, token)
    if error is not None:
        raise error
    return token


AuthDep = Annotated[str, Depends(require_api_key)]

"""Request dependencies: the application runtime and API-key authentication."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from api.runtime import Runtime
from core.http import APIError


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


def lacks_valid_key(request: Request) -> bool:
    """Whether a request to the versioned API comes without the service's key: the
    check of `require_api_key` for error handlers that run before dependencies do."""
    if not request.url.path.startswith("/api/"):
        return False
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    runtime: Runtime = request.app.state.runtime
    return not (scheme.lower() == "bearer" and key_matches(token.strip(), runtime.api_key))


def require_api_key(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str:
    token = credentials.credentials.strip() if credentials else ""
    if not key_matches(token, runtime.api_key):
        raise APIError(401, "Invalid API key")
    return token


AuthDep = Annotated[str, Depends(require_api_key)]

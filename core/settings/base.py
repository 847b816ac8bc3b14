"""What every settings model shares: strict frozen models whose errors name the key."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, ValidationError


class SettingsError(ValueError):
    """Invalid configuration; the message names the key."""


class Strict(BaseModel):
    # A misspelled key is an error, not an ignored extra.
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_regex(pattern: str) -> str:
    """`pattern` if it compiles; re.error is not a ValueError, so pydantic would
    not report it with its key."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return pattern


def format_validation(source: str, exc: ValidationError) -> str:
    lines = [f"{source}: invalid configuration"]
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "<root>"
        lines.append(f"  {key}: {err['msg']}")
    return "\n".join(lines)

"""How a turn becomes rows of the operational tables and a row becomes a profile
entry: the part of the store that no database dialect changes.

One column per profile field (core.taxonomy.PROFILE); anything else goes into
`extra` as JSON text. Lists are stored as JSON text, booleans as 0/1 integers,
on SQLite and PostgreSQL alike, so a migration between them copies values as
they are.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from core.taxonomy import PROFILE, ProfileKind
from graph.turn import TurnResult
from rules.profile import is_empty

PROFILE_KINDS: dict[str, ProfileKind] = {spec.name: spec.kind for spec in PROFILE}


def to_column(kind: ProfileKind, value: Any) -> Any:
    if value is None:
        return None
    if kind == "list":
        return json.dumps(value if isinstance(value, list) else [value], ensure_ascii=False)
    if kind == "bool":
        return int(bool(value))
    return value


def from_column(kind: ProfileKind, stored: Any) -> Any:
    if is_empty(stored):
        return None
    if kind == "list":
        return _as_list(stored)
    if kind == "bool":
        return bool(stored)
    return stored


def _as_list(stored: str) -> list[Any]:
    """A list column as stored: JSON, or one plain value written before the
    field became a list (an `interest` of an earlier version)."""
    try:
        value = json.loads(stored)
    except ValueError:
        return [stored]
    return value if isinstance(value, list) else [stored]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def profile_values(result: TurnResult, now: str) -> list[Any]:
    """The values of a turn's profile row, in the order of sql.UPSERT_COLUMNS."""
    profile = dict(result.profile)
    columns = [to_column(kind, profile.pop(name, None)) for name, kind in PROFILE_KINDS.items()]
    return [
        *columns,
        json.dumps(profile, ensure_ascii=False),
        result.phase,
        result.outcome,
        int(result.handoff),
        now,
    ]


def profile_entry(row: dict[str, Any]) -> dict[str, Any]:
    """A `user_profiles` row (by column name) as the profiles endpoint shows it."""
    row = dict(row)
    row.pop("user_id")
    extra = json.loads(row.pop("extra") or "{}")
    for name, kind in PROFILE_KINDS.items():
        row[name] = from_column(kind, row.get(name))
    row["handoff"] = bool(row["handoff"])
    return {**{k: v for k, v in row.items() if v is not None}, **extra}

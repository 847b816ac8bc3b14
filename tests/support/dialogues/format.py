"""The recorded-dialogue format: one YAML file per conversation (Rasa end-to-end
style) with the customer's lines, the raw LLM replies recorded for each line
(inline, or in a cassette file next to it), and assertions on every step;
loading and validating it."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core import yaml_errors
from core.taxonomy import GUARD_CODES, PROFILE_FIELDS, Intent, Outcome, Phase

DEFAULT_SESSION_ID = "BOT_7000"
# A fixed start keeps replays reproducible; 10:00 in Astana, a working day.
DEFAULT_START = datetime(2026, 2, 2, 10, 0, tzinfo=timezone(timedelta(hours=5)))
STEP_PACE_MS = 20_000
"""Time between two steps without `at`: a customer typing in a chat."""
CASSETTE_SUFFIX = ".cassette.yaml"
DEFAULT_OLLAMA_HINT = "http://127.0.0.1:11434"

Reply = str | dict[str, Any]
"""One recorded LLM reply: the raw text, or the JSON object a structured call returned."""

STORED_STATUS_FIELDS = ("phase", "outcome", "handoff")
"""Columns of a stored profile row besides the profile fields."""
_OFFSET_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.IGNORECASE)
_OFFSET_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.:@+\-]")


class DialogueFormatError(ValueError):
    """A dialogue or cassette file that cannot be used; the message names the key."""


def parse_offset(text: str) -> int:
    """A time offset such as "0s", "90s", "15m", "2h", "3d" or "1d 2h", in milliseconds."""
    rest = _OFFSET_PART.sub("", text).strip()
    parts = _OFFSET_PART.findall(text)
    if rest or not parts:
        raise ValueError(f"invalid time offset {text!r} (use e.g. 0s, 90s, 15m, 2h, 3d, 1d 2h)")
    return int(sum(float(n) * _OFFSET_UNITS_MS[u.lower()] for n, u in parts))


def _as_list(value: Any) -> Any:
    # "answer_contains: 5 000 ₸" reads better than a one-item list.
    return [value] if isinstance(value, str) else value


class _Model(BaseModel):
    # A misspelled key in a dialogue is an error: an ignored assertion passes silently.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StepAssert(_Model):
    """What must hold after one customer step. Only the keys that are written are checked."""

    intent: Intent | None = None
    phase: Phase | None = None
    outcome: Outcome | None = None
    handoff: bool | None = None
    returning: bool | None = None
    """The customer came back after flow.reengage_after_hours (a greeting is welcome again)."""
    kb_used: bool | None = None
    turn: int | None = None
    llm_calls: int | None = None
    profile: dict[str, Any] | None = None
    """Profile fields that must be set, with these values (the thread's profile)."""
    profile_set: list[str] = []
    """Profile fields that must be set, whatever the value."""
    profile_not_set: list[str] = []
    stored_profile: dict[str, Any] | None = None
    """Fields of `GET /api/v1/users/{user_id}/profile` for this session, with values."""
    kb_topics: list[str] = []
    """KB topics that must be among this turn's retrieved facts."""
    kb_topics_not: list[str] = []
    answer: str | None = None
    """The exact answer."""
    answer_contains: list[str] = []
    """Substrings of the answer (case-insensitive; no-break spaces count as spaces)."""
    answer_not_contains: list[str] = []
    answer_matches: str | None = None
    """A regular expression searched in the answer (add (?i) for case-insensitive)."""
    guard_violations: list[str] | None = None
    """Exactly these violation codes were found this turn (in any order); [] = none."""

    _as_lists = field_validator(
        "profile_set",
        "profile_not_set",
        "kb_topics",
        "kb_topics_not",
        "answer_contains",
        "answer_not_contains",
        "guard_violations",
        mode="before",
    )(_as_list)

    @field_validator("profile")
    @classmethod
    def _profile_keys(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        _check_profile_fields(value or {})
        return value

    @field_validator("stored_profile")
    @classmethod
    def _stored_keys(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # The stored row also carries where the conversation stands.
        _check_profile_fields(value or {}, extra=STORED_STATUS_FIELDS)
        return value

    @field_validator("profile_set", "profile_not_set")
    @classmethod
    def _profile_names(cls, value: list[str]) -> list[str]:
        _check_profile_fields(value)
        return value

    @field_validator("guard_violations")
    @classmethod
    def _known_codes(cls, value: list[str] | None) -> list[str] | None:
        unknown = [code for code in value or [] if code not in GUARD_CODES]
        if unknown:
            raise ValueError(
                f"unknown guard violation {', '.join(unknown)} (known: {', '.join(GUARD_CODES)})"
            )
        return value

    @field_validator("answer_matches")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return value

    def is_empty(self) -> bool:
        return not self.model_fields_set


def _check_profile_fields(names: Collection[str], extra: tuple[str, ...] = ()) -> None:
    known = (*PROFILE_FIELDS, *extra)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown profile field {', '.join(unknown)} (known: {', '.join(known)})")


class Step(_Model):
    """One customer message and what must follow from it."""

    user: str = Field(min_length=1)
    """The customer's (buffered) message, as n8n sends it; media as "[image]: …"."""
    at: str | None = None
    """Time since the dialogue's start ("0s", "2h", "3d"); default: 20 s after the last step."""
    replies: list[Reply] | None = None
    """The raw LLM replies of this turn in call order (None: kept in the cassette)."""
    expect: StepAssert = Field(default_factory=StepAssert, alias="assert")

    @field_validator("at")
    @classmethod
    def _offset(cls, value: str | None) -> str | None:
        if value is not None:
            parse_offset(value)
        return value


class Fixtures(_Model):
    """Where the conversation stands before the first step."""

    profile: dict[str, Any] = {}
    phase: Phase | None = None
    outcome: Outcome | None = None
    turn: int | None = Field(default=None, ge=0)

    @field_validator("profile")
    @classmethod
    def _profile_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_profile_fields(value)
        return value


class RecordedWith(_Model):
    """Where the replies came from (written by `salesbot dialogues record`)."""

    model: str
    recorded_at: str


class Dialogue(_Model):
    """One conversation: its customer lines, recorded replies and assertions."""

    test_case: str = Field(min_length=1)
    description: str = ""
    draft: bool = False
    """Assertions written by the recorder that nobody has reviewed yet."""
    reason: str | None = None
    """Why the dialogue fails today (only in known_failures/)."""
    recorded_with: RecordedWith | None = None
    session_id: str = DEFAULT_SESSION_ID
    user_id: str | None = None
    """Default: derived from test_case, so every dialogue is its own customer."""
    kb: str | None = None
    """Another KB directory, relative to this file (default: the bundled KB)."""
    start: datetime | None = None
    fixtures: Fixtures | None = None
    cassette: str | None = None
    """A file next to this one holding the replies (steps then carry none)."""
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _offsets_in_order(self) -> Dialogue:
        last = -1
        for number, step in enumerate(self.steps, 1):
            if step.at is None:
                continue
            offset = parse_offset(step.at)
            if offset < last:
                raise ValueError(f"steps.{number}.at: {step.at!r} is earlier than a previous step")
            last = offset
        return self

    def customer_id(self) -> str:
        if self.user_id:
            return self.user_id
        return ("dlg_" + _UNSAFE_ID_CHARS.sub("_", self.test_case))[:128]

    def timestamps(self) -> list[int]:
        """`message.timestamp_ms` of every step."""
        start = self.start or DEFAULT_START
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        start_ms = int(start.timestamp() * 1000)
        stamps: list[int] = []
        for step in self.steps:
            if step.at is not None:
                stamps.append(start_ms + parse_offset(step.at))
            else:
                stamps.append(stamps[-1] + STEP_PACE_MS if stamps else start_ms)
        return stamps


class CassetteStep(_Model):
    user: str
    """The customer line these replies answered; a mismatch means the dialogue changed."""
    replies: list[Reply]


class Cassette(_Model):
    test_case: str
    recorded_with: RecordedWith | None = None
    steps: list[CassetteStep]


@dataclass
class LoadedDialogue:
    """A dialogue file with its replies resolved (from the file or its cassette)."""

    path: Path
    dialogue: Dialogue
    replies: list[list[Reply] | None]
    """Per step; None when nothing usable is recorded for it."""
    stale: dict[int, str] = field(default_factory=dict)
    """Step index -> why its recorded replies cannot be used."""

    @property
    def cassette_path(self) -> Path | None:
        if self.dialogue.cassette is None:
            return None
        return self.path.parent / self.dialogue.cassette

    @property
    def kb_path(self) -> Path | None:
        if self.dialogue.kb is None:
            return None
        return (self.path.parent / self.dialogue.kb).resolve()

    def format_problems(self) -> list[str]:
        """What makes the file unfit for a replay (as opposed to a recording)."""
        return [
            f"steps.{number}: no assertions (every step must assert something)"
            for number, step in enumerate(self.dialogue.steps, 1)
            if step.expect.is_empty()
        ]


def _format_validation(source: Path, exc: ValidationError) -> str:
    lines = [f"{source}: invalid dialogue"]
    for err in exc.errors():
        key = ".".join(str(p + 1) if isinstance(p, int) else str(p) for p in err["loc"])
        lines.append(f"  {key or '<root>'}: {err['msg']}")
    return "\n".join(lines)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DialogueFormatError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise DialogueFormatError(yaml_errors.describe(str(path), exc)) from None


def load_dialogue(path: str | Path) -> LoadedDialogue:
    """Read and validate a dialogue file and its cassette, if it names one."""
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise DialogueFormatError(f"{path}: the top level must be a mapping")
    try:
        dialogue = Dialogue.model_validate(data)
    except ValidationError as exc:
        raise DialogueFormatError(_format_validation(path, exc)) from None
    loaded = LoadedDialogue(path, dialogue, [step.replies for step in dialogue.steps])
    cassette_path = loaded.cassette_path
    if cassette_path is None:
        return loaded
    inline = [n for n, step in enumerate(dialogue.steps, 1) if step.replies is not None]
    if inline:
        raise DialogueFormatError(
            f"{path}: steps {inline} have inline replies but the dialogue uses a cassette"
        )
    if not cassette_path.is_file():
        loaded.stale = dict.fromkeys(range(len(dialogue.steps)), f"no cassette {cassette_path}")
        return loaded
    try:
        cassette = Cassette.model_validate(_read_yaml(cassette_path))
    except ValidationError as exc:
        raise DialogueFormatError(_format_validation(cassette_path, exc)) from None
    for index, step in enumerate(dialogue.steps):
        if index >= len(cassette.steps):
            loaded.stale[index] = "the cassette has no replies for this step"
        elif cassette.steps[index].user != step.user:
            loaded.stale[index] = (
                f"the cassette recorded replies to «{cassette.steps[index].user}», "
                "but the dialogue's line has changed"
            )
        else:
            loaded.replies[index] = cassette.steps[index].replies
    return loaded

"""Recorded dialogues: the sales flow's regression suite, and `salesbot dialogues record`.

A dialogue is one YAML file per conversation (Rasa end-to-end style): the
customer's lines, the raw LLM replies recorded for each line (inline, or in a
cassette file next to it), and assertions on every step. A replay drives the
real service through its HTTP API (`/api/v1/process`, a fresh SQLite DB) with an
Ollama-protocol server that serves the recorded replies, and checks each step;
a failure reads like a diff. The recorder plays the same lines against a live
Ollama through a small proxy that keeps every reply, and writes what it saw as
draft assertions for a person to review.

This module holds everything reusable: the format (pydantic models), loading
and saving, the service driver, the checker with its report, and the CLI. The
pytest collector lives in tests/dialogues/conftest.py; the scripted Ollama it
replays with is tests/ollama_stub.py (any object with `ScriptedOllama`'s shape).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from graph.analysis import Intent
from graph.settings import GUARD_CODES, Phase

if TYPE_CHECKING:
    from fastapi import FastAPI

# --- the format ------------------------------------------------------------------

DEFAULT_SESSION_ID = "BOT_7000"
# A fixed start keeps replays reproducible; 10:00 in Astana, a working day.
DEFAULT_START = datetime(2026, 2, 2, 10, 0, tzinfo=timezone(timedelta(hours=5)))
STEP_PACE_MS = 20_000
"""Time between two steps without `at`: a customer typing in a chat."""
CASSETTE_SUFFIX = ".cassette.yaml"
DEFAULT_OLLAMA_HINT = "http://127.0.0.1:11434"

Reply = str | dict[str, Any]
"""One recorded LLM reply: the raw text, or the JSON object a structured call returned."""

Outcome = Literal["payment_ready", "video_call_scheduled", "soft_close", "handoff"]
OUTCOMES: tuple[str, ...] = Outcome.__args__  # type: ignore[attr-defined]
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
    # Imported here: graph.state pulls in LangGraph, which `salesbot --help` need not load.
    from graph.state import PROFILE_FIELDS

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
        raise DialogueFormatError(f"{path}: not valid YAML: {exc}") from None


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


# --- saving ----------------------------------------------------------------------


class _FlowMap(dict[str, Any]):
    """A mapping written on one line (replies, profiles)."""


class _FlowList(list[Any]):
    """A list of scalars written on one line (topics, codes)."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Lists indented under their key read better than PyYAML's default.
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(
    _FlowMap,
    lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True),
)
_Dumper.add_representer(
    _FlowList,
    lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True),
)


def _styled(value: Any, key: str = "") -> Any:
    """Mark what reads best on one line; everything else stays in block style."""
    if isinstance(value, dict):
        if key in {"profile", "stored_profile"}:
            return _FlowMap(value)
        return {k: _styled(v, k) for k, v in value.items()}
    if isinstance(value, list):
        if key == "replies":
            return [_FlowMap(v) if isinstance(v, dict) else v for v in value]
        scalars = all(isinstance(v, str | int | float | bool) and "\n" not in str(v) for v in value)
        # Answer fragments are sentences: one per line reads better than one long line.
        if scalars and key not in {"answer_contains", "answer_not_contains"}:
            return _FlowList(value)
        return [_styled(v) for v in value]
    return value


def dump_yaml(data: Any) -> str:
    return yaml.dump(
        _styled(data),
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=10_000,
        default_flow_style=False,
    )


def save_dialogue(path: Path, dialogue: Dialogue) -> None:
    data = dialogue.model_dump(mode="json", by_alias=True, exclude_unset=True)
    path.write_text(dump_yaml(data), encoding="utf-8")


def save_cassette(path: Path, cassette: Cassette) -> None:
    header = f"# Recorded LLM replies of {cassette.test_case}; re-record, do not edit by hand.\n"
    data = cassette.model_dump(mode="json", exclude_none=True)
    path.write_text(header + dump_yaml(data), encoding="utf-8")


# --- driving the service ----------------------------------------------------------


@dataclass
class Observation:
    """What one step produced: the HTTP answer and the thread's state after it."""

    status: int
    answer: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    """The error body of a non-200 answer."""
    profile: dict[str, Any] = field(default_factory=dict)
    kb_topics: list[str] = field(default_factory=list)
    guard_violations: list[str] = field(default_factory=list)
    returning: bool = False
    llm_calls: int = 0
    stored_profile: dict[str, Any] | None = None

    def summary(self) -> str:
        meta = self.meta
        return (
            f"intent={meta.get('intent')} phase={meta.get('phase')} "
            f"outcome={meta.get('outcome')} handoff={meta.get('handoff')} "
            f"turn={meta.get('turn')} llm_calls={self.llm_calls} returning={self.returning}\n"
            f"kb_topics={self.kb_topics} guard_violations={self.guard_violations}\n"
            f"profile={self.profile}"
        )


_CONTROLLED_ENV = (
    "API_KEY",
    "DEV_MODE",
    "OLLAMA_BASE_URL",
    "OLLAMA_MODEL",
    "KB_PATH",
    "DB_PATH",
    "LOG_LEVEL",
    "LOG_CONVERSATION_TEXT",
    "SETTINGS_PATH",
)


@contextmanager
def scoped_env(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables and restore them afterwards.

    Feature-flag overrides (FF_*) from the developer's shell are removed too: a
    replay checks the configuration that is checked in, not someone's local one.
    """
    names = {*values, *(n for n in os.environ if n.upper().startswith("FF_"))}
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            value = values.get(name)
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class DialogueService:
    """The real service (its FastAPI app and lifespan) behind an in-process HTTP client."""

    def __init__(self, app: FastAPI, http: httpx.AsyncClient, api_key: str):
        self.app = app
        self.http = http
        self.auth = {"Authorization": f"Bearer {api_key}"}

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        ollama_url: str,
        *,
        kb_path: Path | None = None,
        model: str | None = None,
        kb_cache_dir: Path | None = None,
    ) -> AsyncIterator[DialogueService]:
        """A service with a fresh SQLite DB in a temp dir, talking to `ollama_url`."""
        from api.app import create_app
        from graph.settings import load_settings

        api_key = secrets.token_urlsafe(16)
        with tempfile.TemporaryDirectory(prefix="salesbot-dialogue-") as work:
            env: dict[str, str | None] = dict.fromkeys(_CONTROLLED_ENV)
            env.update(
                API_KEY=api_key,
                OLLAMA_BASE_URL=ollama_url,
                OLLAMA_MODEL=model,
                KB_PATH=str(kb_path) if kb_path else None,
                DB_PATH=str(Path(work) / "conversations.db"),
                LOG_LEVEL="WARNING",
            )
            # The index cache is only an optimization: without a directory given,
            # KB_CACHE_DIR (or settings.yaml's cache_dir) applies as in the service.
            if kb_cache_dir is not None:
                env["KB_CACHE_DIR"] = str(kb_cache_dir)
            with scoped_env(env):
                app = create_app(load_settings())
                transport = httpx.ASGITransport(app=app)
                async with (
                    app.router.lifespan_context(app),
                    httpx.AsyncClient(transport=transport, base_url="http://salesbot") as http,
                ):
                    yield cls(app, http, api_key)

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    async def apply_fixtures(self, dialogue: Dialogue) -> None:
        """Put the thread where the fixtures say, before the first message."""
        fixtures = dialogue.fixtures
        if fixtures is None:
            return
        from graph.threads import thread_config

        values: dict[str, Any] = {}
        if fixtures.profile:
            values["profile"] = fixtures.profile
        if fixtures.phase is not None:
            values["phase"] = fixtures.phase
        if fixtures.outcome is not None:
            values["outcome"] = fixtures.outcome
        if fixtures.turn is not None:
            values["turn"] = fixtures.turn
        if values:
            # As if a turn had just ended at the guard: the update goes through the
            # state's reducers, and no node is left pending on the thread.
            await self.runtime.graph_for(dialogue.session_id, dialogue.customer_id()).aupdate_state(
                thread_config(dialogue.session_id, dialogue.customer_id()),
                values,
                as_node="guard",
            )

    async def turn(
        self, dialogue: Dialogue, text: str, timestamp_ms: int, *, stored_profile: bool = False
    ) -> Observation:
        from graph.threads import thread_config

        user_id = dialogue.customer_id()
        response = await self.http.post(
            "/api/v1/process",
            json={
                "session_id": dialogue.session_id,
                "user_id": user_id,
                "channel": "whatsapp",
                "message": {"text": text, "timestamp_ms": timestamp_ms},
            },
            headers=self.auth,
        )
        observed = Observation(status=response.status_code)
        if response.status_code == 200:
            payload = response.json()
            observed.answer = payload["answer"]
            observed.meta = payload["meta"]
        else:
            observed.error = response.text
        graph = self.runtime.graph_for(dialogue.session_id, user_id)
        snapshot = await graph.aget_state(thread_config(dialogue.session_id, user_id))
        values = snapshot.values or {}
        observed.profile = dict(values.get("profile") or {})
        observed.kb_topics = list(values.get("kb_topics") or [])
        observed.guard_violations = list(values.get("guard_violations") or [])
        observed.returning = bool(values.get("returning"))
        observed.llm_calls = int(values.get("llm_calls") or 0)
        if stored_profile:
            observed.stored_profile = await self.stored_profile(dialogue)
        return observed

    async def stored_profile(self, dialogue: Dialogue) -> dict[str, Any] | None:
        """This session's entry of the profile endpoint (None when there is none)."""
        response = await self.http.get(
            f"/api/v1/users/{dialogue.customer_id()}/profile", headers=self.auth
        )
        if response.status_code != 200:
            return None
        for entry in response.json()["profiles"]:
            if entry.get("session_id") == dialogue.session_id:
                return dict(entry)
        return None


# --- checking ----------------------------------------------------------------------


class Note(str):
    """A description standing in for a value in a report ("not in the answer")."""

    __slots__ = ()


@dataclass(frozen=True)
class Mismatch:
    """One failed assertion."""

    assertion: str
    expected: Any
    actual: Any


_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})


def _norm(text: str) -> str:
    return text.translate(_SPACES).casefold()


def _missing(profile: Mapping[str, Any], name: str) -> bool:
    value = profile.get(name)
    return value is None or value == "" or value == []


def _compare_fields(
    name: str, expected: Mapping[str, Any], actual: Mapping[str, Any] | None
) -> list[Mismatch]:
    if actual is None:
        return [Mismatch(name, dict(expected), Note("no profile stored"))]
    wrong = {key: value for key, value in expected.items() if actual.get(key) != value}
    if not wrong:
        return []
    return [Mismatch(name, wrong, {key: actual.get(key) for key in wrong})]


def check_step(expect: StepAssert, observed: Observation) -> list[Mismatch]:
    """Every assertion of `expect` that `observed` breaks (empty when the step passes)."""
    if observed.status != 200:
        return [Mismatch("status", 200, Note(f"{observed.status} {observed.error}".strip()))]
    written = expect.model_fields_set
    meta = observed.meta
    found: list[Mismatch] = []
    for name in ("intent", "phase", "outcome", "handoff", "kb_used", "turn"):
        if name in written and meta.get(name) != getattr(expect, name):
            found.append(Mismatch(name, getattr(expect, name), meta.get(name)))
    if "returning" in written and observed.returning != expect.returning:
        found.append(Mismatch("returning", expect.returning, observed.returning))
    if "llm_calls" in written and observed.llm_calls != expect.llm_calls:
        found.append(Mismatch("llm_calls", expect.llm_calls, observed.llm_calls))

    profile = observed.profile
    if expect.profile:
        found += _compare_fields("profile", expect.profile, profile)
    unset = [name for name in expect.profile_set if _missing(profile, name)]
    if unset:
        found.append(Mismatch("profile_set", unset, Note("not set")))
    present = {
        name: profile[name] for name in expect.profile_not_set if not _missing(profile, name)
    }
    if present:
        found.append(Mismatch("profile_not_set", sorted(present), present))
    if expect.stored_profile:
        found += _compare_fields("stored_profile", expect.stored_profile, observed.stored_profile)

    absent = [t for t in expect.kb_topics if t not in observed.kb_topics]
    if absent:
        found.append(Mismatch("kb_topics", absent, observed.kb_topics))
    unwanted = [t for t in expect.kb_topics_not if t in observed.kb_topics]
    if unwanted:
        found.append(Mismatch("kb_topics_not", unwanted, observed.kb_topics))

    answer = observed.answer
    if expect.answer is not None and answer != expect.answer:
        found.append(Mismatch("answer", expect.answer, answer))
    lacking = [s for s in expect.answer_contains if _norm(s) not in _norm(answer)]
    if lacking:
        found.append(Mismatch("answer_contains", lacking, Note("not in the answer")))
    forbidden = [s for s in expect.answer_not_contains if _norm(s) in _norm(answer)]
    if forbidden:
        found.append(Mismatch("answer_not_contains", forbidden, Note("present in the answer")))
    if expect.answer_matches is not None and not re.search(expect.answer_matches, answer):
        found.append(
            Mismatch("answer_matches", expect.answer_matches, Note("no match in the answer"))
        )

    if expect.guard_violations is not None and sorted(set(expect.guard_violations)) != sorted(
        set(observed.guard_violations)
    ):
        found.append(
            Mismatch(
                "guard_violations",
                sorted(set(expect.guard_violations)),
                sorted(set(observed.guard_violations)),
            )
        )
    return found


# --- replaying ---------------------------------------------------------------------


class ScriptedOllama(Protocol):
    """An Ollama-protocol server serving queued replies (tests/ollama_stub.OllamaStub).

    `push` queues replies (strings, or callables of the request returning one);
    `queue` holds those not yet served; `errors` lists calls that found no reply.
    """

    @property
    def url(self) -> str: ...

    @property
    def queue(self) -> Collection[Any]: ...

    @property
    def errors(self) -> list[str]: ...

    def push(self, *replies: Any) -> None: ...


class _ServedReply:
    """A recorded reply that notes which kind of call consumed it.

    A structured (JSON object) reply served to a plain-text answer call means the
    calls of the turn no longer line up with the recording.
    """

    def __init__(self, reply: Reply, number: int, log: list[str]):
        self.reply = reply
        self.number = number
        self.log = log

    def __call__(self, request: dict[str, Any]) -> str:
        structured = bool(request.get("format"))
        if isinstance(self.reply, dict):
            if not structured:
                self.log.append(
                    f"recorded reply {self.number} is a JSON object, but call {self.number} "
                    "asks for a plain-text answer"
                )
            return json.dumps(self.reply, ensure_ascii=False)
        return self.reply


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is below it (copy-pasteable)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def rerecord_command(path: Path, model: str | None = None) -> str:
    model_arg = f" --model {model}" if model else ""
    return (
        f"salesbot dialogues record {display_path(path)} --ollama {DEFAULT_OLLAMA_HINT}{model_arg}"
    )


@dataclass
class StepFailure:
    """The first step of a dialogue that went wrong, with everything needed to read why."""

    index: int
    observed: Observation | None
    mismatches: list[Mismatch] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)


@dataclass
class ReplayResult:
    loaded: LoadedDialogue
    observations: list[Observation]
    failure: StepFailure | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None

    @property
    def stale(self) -> bool:
        """The failure is a recording that no longer lines up with the code's calls."""
        return self.failure is not None and bool(self.failure.stale)

    def report(self) -> str:
        return format_failure(self.loaded, self.failure) if self.failure else "passed"


def _quote(value: Any) -> str:
    if isinstance(value, Note):
        return str(value)
    if isinstance(value, str):
        return f"«{value}»"
    return json.dumps(value, ensure_ascii=False, default=str)


def format_failure(loaded: LoadedDialogue, failure: StepFailure) -> str:
    """A diff-like report: dialogue, step, assertion, expected, actual, and the answer."""
    dialogue = loaded.dialogue
    step = dialogue.steps[failure.index]
    lines = [
        f"dialogue {display_path(loaded.path)} ({dialogue.test_case})",
        f"step {failure.index + 1} of {len(dialogue.steps)}"
        + (f" (at {step.at})" if step.at else ""),
        f"  customer: «{step.user}»",
    ]
    observed = failure.observed
    if observed is not None:
        if observed.status == 200:
            lines.append(f"  answer:   «{observed.answer}»")
        else:
            lines.append(f"  HTTP {observed.status}: {observed.error}")
        summary = observed.summary().splitlines()
        lines += [f"  observed: {summary[0]}", *(f"            {line}" for line in summary[1:])]
    if failure.stale:
        lines.append("the recording is stale:")
        lines += [f"  - {problem}" for problem in failure.stale]
        model = dialogue.recorded_with.model if dialogue.recorded_with else None
        lines += [
            "re-record it against a live Ollama, then review the draft assertions:",
            f"  {rerecord_command(loaded.path, model)}",
        ]
    for mismatch in failure.mismatches:
        lines += [
            f"assertion failed: {mismatch.assertion}",
            f"  - expected: {_quote(mismatch.expected)}",
            f"  + actual:   {_quote(mismatch.actual)}",
        ]
    return "\n".join(lines)


async def replay(
    loaded: LoadedDialogue, ollama: ScriptedOllama, *, kb_cache_dir: Path | None = None
) -> ReplayResult:
    """Run the dialogue's steps through the service, serving the recorded replies.

    Stops at the first failing step: later steps would run on a conversation that
    has already gone elsewhere, and their failures would only be noise.
    """
    if ollama.queue:
        # They would be served to this dialogue's first calls and misread as its own.
        raise ValueError("the scripted Ollama still has replies queued from an earlier run")
    dialogue = loaded.dialogue
    result = ReplayResult(loaded, [])
    stamps = dialogue.timestamps()
    async with DialogueService.open(
        ollama.url, kb_path=loaded.kb_path, kb_cache_dir=kb_cache_dir
    ) as service:
        await service.apply_fixtures(dialogue)
        for index, step in enumerate(dialogue.steps):
            replies = loaded.replies[index]
            if replies is None:
                why = loaded.stale.get(index, "no replies are recorded for this step")
                result.failure = StepFailure(index, None, stale=[why])
                return result
            call_log: list[str] = []
            ollama.errors.clear()
            ollama.push(*(_ServedReply(r, n, call_log) for n, r in enumerate(replies, 1)))
            observed = await service.turn(
                dialogue,
                step.user,
                stamps[index],
                stored_profile=step.expect.stored_profile is not None,
            )
            result.observations.append(observed)
            stale = list(call_log)
            if ollama.errors:
                stale.append(
                    f"the code made more LLM calls than the {len(replies)} recorded "
                    f"({len(ollama.errors)} call(s) found no recorded reply)"
                )
            unused = len(ollama.queue)
            if unused:
                stale.append(
                    f"{unused} recorded repl{'y is' if unused == 1 else 'ies are'} no longer "
                    f"asked for (the code made {len(replies) - unused} of the "
                    f"{len(replies)} recorded calls)"
                )
            # On a stale step the assertions only repeat the staleness (a 503, a
            # wrong answer): the recording is what has to be fixed first.
            mismatches = [] if stale else check_step(step.expect, observed)
            if stale or mismatches:
                result.failure = StepFailure(index, observed, mismatches, stale)
                return result
    return result


# --- recording ---------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedCall:
    structured: bool
    """The call asked for JSON (Ollama's `format`): the intent analysis or its repair."""
    content: str
    """The reply's concatenated `message.content`, as the model wrote it."""

    def as_reply(self) -> Reply:
        if self.structured:
            try:
                value = json.loads(self.content)
            except ValueError:
                return self.content
            if isinstance(value, dict):
                return value
        return self.content


class RecordingProxy:
    """Ollama's HTTP API forwarded to a live server on 127.0.0.1, keeping every chat reply.

    Streamed NDJSON passes through line by line as it arrives, so the service sees
    the same stream (and the same timings) it would see talking to Ollama directly.
    """

    def __init__(self, upstream: str, *, timeout_s: float = 600.0):
        self.upstream = upstream.rstrip("/")
        self.calls: list[RecordedCall] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=timeout_s)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> RecordingProxy:
        # A short poll interval: shutdown() waits for the loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def _keep(self, call: RecordedCall | None, error: str | None) -> None:
        with self._lock:
            if call is not None:
                self.calls.append(call)
            if error is not None:
                self.errors.append(error)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return  # request lines would go to stderr unasked

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

            def do_HEAD(self) -> None:
                self._forward("HEAD")

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                is_chat = self.path.split("?")[0] == "/api/chat" and method == "POST"
                headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
                try:
                    with proxy._client.stream(
                        method, proxy.upstream + self.path, content=body, headers=headers
                    ) as upstream:
                        self.send_response(upstream.status_code)
                        for name in ("Content-Type",):
                            if name in upstream.headers:
                                self.send_header(name, upstream.headers[name])
                        self.end_headers()
                        if is_chat and upstream.status_code == 200:
                            self._relay_chat(upstream, body)
                        else:
                            data = b"".join(upstream.iter_bytes())
                            self.wfile.write(data)
                            if is_chat:
                                text = data.decode("utf-8", "replace")[:300]
                                proxy._keep(None, f"HTTP {upstream.status_code}: {text}")
                except httpx.HTTPError as exc:
                    proxy._keep(None, f"{type(exc).__name__}: {exc}")
                    self.send_response(502)
                    self.end_headers()

            def _relay_chat(self, upstream: httpx.Response, request_body: bytes) -> None:
                try:
                    request = json.loads(request_body or b"{}")
                except ValueError:
                    request = {}
                parts: list[str] = []
                for line in upstream.iter_lines():
                    if not line:
                        continue
                    self.wfile.write(line.encode("utf-8") + b"\n")
                    self.wfile.flush()
                    try:
                        chunk = json.loads(line)
                    except ValueError:
                        continue
                    message = chunk.get("message") or {}
                    parts.append(str(message.get("content") or ""))
                proxy._keep(RecordedCall(bool(request.get("format")), "".join(parts)), None)

        return Handler


class RecordingError(RuntimeError):
    """The live run could not be recorded (Ollama down, an HTTP error from the service)."""


@dataclass
class Recording:
    """The outcome of a live run: per step, the replies and what the service did."""

    loaded: LoadedDialogue
    model: str
    replies: list[list[Reply]]
    observations: list[Observation]


async def record(
    loaded: LoadedDialogue,
    ollama_url: str,
    *,
    model: str | None = None,
    kb_cache_dir: Path | None = None,
) -> Recording:
    """Play the dialogue's customer lines against a live Ollama, keeping every reply."""
    dialogue = loaded.dialogue
    stamps = dialogue.timestamps()
    replies: list[list[Reply]] = []
    observations: list[Observation] = []
    with RecordingProxy(ollama_url) as proxy:
        async with DialogueService.open(
            proxy.url, kb_path=loaded.kb_path, model=model, kb_cache_dir=kb_cache_dir
        ) as service:
            used_model = service.runtime.settings.llm.model
            await service.apply_fixtures(dialogue)
            for index, step in enumerate(dialogue.steps):
                first = len(proxy.calls)
                observed = await service.turn(
                    dialogue,
                    step.user,
                    stamps[index],
                    stored_profile=step.expect.stored_profile is not None,
                )
                if observed.status != 200:
                    problems = "; ".join(proxy.errors) or observed.error
                    raise RecordingError(
                        f"step {index + 1} («{step.user}»): the service answered "
                        f"{observed.status}: {problems}"
                    )
                replies.append([call.as_reply() for call in proxy.calls[first:]])
                observations.append(observed)
    return Recording(loaded, used_model, replies, observations)


def draft_assertions(observed: Observation, previous_profile: Mapping[str, Any]) -> StepAssert:
    """What the recorder saw, as assertions for a person to review and trim."""
    learned = {
        key: value for key, value in observed.profile.items() if previous_profile.get(key) != value
    }
    fields: dict[str, Any] = {
        "intent": observed.meta.get("intent"),
        "phase": observed.meta.get("phase"),
        "outcome": observed.meta.get("outcome"),
        "handoff": observed.meta.get("handoff"),
    }
    if observed.returning:
        fields["returning"] = True
    if learned:
        fields["profile"] = learned
    if observed.kb_topics:
        fields["kb_topics"] = observed.kb_topics
    fields["guard_violations"] = observed.guard_violations
    fields["answer"] = observed.answer
    return StepAssert.model_validate(fields)


@dataclass
class WriteSummary:
    drafted_steps: list[int]
    broken: list[tuple[int, list[Mismatch]]]
    """Steps whose existing (reviewed) assertions the new recording breaks."""
    files: list[Path]


def apply_recording(
    recording: Recording, *, use_cassette: bool = False, now: datetime | None = None
) -> WriteSummary:
    """Write the replies (inline or into the cassette) and draft the missing assertions.

    Reviewed assertions are kept as they are: a re-recording that breaks them is
    reported, because that is exactly what a person has to look at.
    """
    loaded = recording.loaded
    dialogue = loaded.dialogue
    stamp = (now or datetime.now(UTC)).replace(microsecond=0).isoformat()
    recorded_with = RecordedWith(model=recording.model, recorded_at=stamp)
    cassette_name = dialogue.cassette
    if cassette_name is None and use_cassette:
        cassette_name = loaded.path.name.removesuffix(".yaml") + CASSETTE_SUFFIX

    steps: list[Step] = []
    drafted: list[int] = []
    broken: list[tuple[int, list[Mismatch]]] = []
    profile: dict[str, Any] = dict(dialogue.fixtures.profile) if dialogue.fixtures else {}
    for index, (step, observed) in enumerate(
        zip(dialogue.steps, recording.observations, strict=True)
    ):
        expect = step.expect
        if expect.is_empty():
            expect = draft_assertions(observed, profile)
            drafted.append(index + 1)
        else:
            mismatches = check_step(expect, observed)
            if mismatches:
                broken.append((index + 1, mismatches))
        profile = dict(observed.profile)
        # Built field by field so that only what is meant gets written back.
        fields: dict[str, Any] = {"user": step.user}
        if step.at is not None:
            fields["at"] = step.at
        if not cassette_name:
            fields["replies"] = recording.replies[index]
        fields["expect"] = expect
        steps.append(Step(**fields))

    changes: dict[str, Any] = {"steps": steps, "recorded_with": recorded_with}
    if drafted:
        changes["draft"] = True
    if cassette_name:
        changes["cassette"] = cassette_name
    updated = dialogue.model_copy(update=changes)
    save_dialogue(loaded.path, updated)
    files = [loaded.path]
    if cassette_name:
        cassette_path = loaded.path.parent / cassette_name
        save_cassette(
            cassette_path,
            Cassette(
                test_case=dialogue.test_case,
                recorded_with=recorded_with,
                steps=[
                    CassetteStep(user=step.user, replies=replies)
                    for step, replies in zip(dialogue.steps, recording.replies, strict=True)
                ],
            ),
        )
        files.append(cassette_path)
    return WriteSummary(drafted, broken, files)


# --- the command line ------------------------------------------------------------------


def _write(text: str) -> None:
    sys.stdout.write(text + "\n")


def record_main(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        loaded = load_dialogue(path)
    except DialogueFormatError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    try:
        recording = asyncio.run(record(loaded, args.ollama, model=args.model))
    except RecordingError as exc:
        sys.stderr.write(f"recording failed, nothing written: {exc}\n")
        return 1
    summary = apply_recording(recording, use_cassette=args.cassette)
    steps = len(loaded.dialogue.steps)
    calls = sum(len(r) for r in recording.replies)
    _write(f"recorded {steps} steps ({calls} LLM replies, model {recording.model})")
    for written in summary.files:
        _write(f"  wrote {written}")
    if summary.drafted_steps:
        _write(
            f"draft assertions for steps {summary.drafted_steps}: review them, keep what "
            "matters, then remove `draft: true`"
        )
    for number, mismatches in summary.broken:
        _write(f"step {number}: the new recording breaks reviewed assertions:")
        for mismatch in mismatches:
            _write(
                f"  {mismatch.assertion}: expected {_quote(mismatch.expected)}, "
                f"got {_quote(mismatch.actual)}"
            )
    return 1 if summary.broken else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dialogues", help="recorded dialogues (the regression suite)")
    commands = p.add_subparsers(dest="dialogues_command", required=True)
    rec = commands.add_parser(
        "record",
        help="play a dialogue's customer lines against a live Ollama and store the replies",
        description=(
            "Runs FILE's customer lines through the service with a live Ollama, stores "
            "the raw LLM replies (inline, or in the dialogue's cassette) and writes what "
            "happened as draft assertions for steps that have none. Reviewed assertions "
            "are kept; the command exits 1 when the new recording breaks them. The file "
            "is rewritten, so YAML comments in it are not kept."
        ),
    )
    rec.add_argument("file", help="the dialogue YAML file")
    rec.add_argument("--ollama", required=True, help="live Ollama URL, e.g. http://gpu:11434")
    rec.add_argument("--model", help="model name (default: settings.yaml / OLLAMA_MODEL)")
    rec.add_argument(
        "--cassette",
        action="store_true",
        help=f"store the replies in <name>{CASSETTE_SUFFIX} next to the file",
    )
    rec.set_defaults(func=record_main)


__all__ = [
    "Cassette",
    "Dialogue",
    "DialogueFormatError",
    "DialogueService",
    "LoadedDialogue",
    "Mismatch",
    "Observation",
    "RecordingProxy",
    "ReplayResult",
    "ScriptedOllama",
    "StepAssert",
    "apply_recording",
    "check_step",
    "format_failure",
    "load_dialogue",
    "parse_offset",
    "record",
    "replay",
]

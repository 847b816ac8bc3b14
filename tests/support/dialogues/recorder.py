"""Recording a dialogue against a live Ollama: a proxy keeps every reply while the
service talks to the model, and what happened is written back as draft
assertions for a person to review."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.support.dialogues.checker import Mismatch, check_step
from tests.support.dialogues.driver import DialogueService, Observation
from tests.support.dialogues.format import (
    CASSETTE_SUFFIX,
    Cassette,
    CassetteStep,
    LoadedDialogue,
    RecordedWith,
    Reply,
    Step,
    StepAssert,
)
from tests.support.dialogues.usage import CallUsage
from tests.support.dialogues.yaml_io import save_cassette, save_dialogue


@dataclass(frozen=True)
class RecordedCall:
    structured: bool
    """The call asked for JSON (Ollama's `format`): the intent analysis or its repair."""
    content: str
    """The reply's concatenated `message.content`, as the model wrote it."""
    usage: CallUsage | None = None
    """Tokens and timings from the reply's last line (None: the reply had none)."""

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
    """Ollama's HTTP API forwarded to a live server on 127.0.0.1, keeping every chat
    reply with the token counts and timings Ollama reported for it.

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
                started = time.perf_counter()
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
                            self._relay_chat(upstream, body, started)
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

            def _relay_chat(
                self, upstream: httpx.Response, request_body: bytes, started: float
            ) -> None:
                try:
                    request = json.loads(request_body or b"{}")
                except ValueError:
                    request = {}
                parts: list[str] = []
                last: dict[str, Any] | None = None
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
                    if chunk.get("done"):
                        last = chunk
                usage = CallUsage.of(last, time.perf_counter() - started) if last else None
                call = RecordedCall(bool(request.get("format")), "".join(parts), usage)
                proxy._keep(call, None)

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

"""The real service (its FastAPI app and lifespan) behind an in-process HTTP
client, configured without touching the process environment: what a replay and
a recording drive, step by step."""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from api.app import create_app
from api.runtime import Runtime
from core.settings import load_settings
from graph.threads import thread_config
from tests.support.dialogues.format import Dialogue


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
    latency_s: float = 0.0
    """From sending the message to the HTTP answer (the state read after it not included)."""

    def summary(self) -> str:
        meta = self.meta
        return (
            f"intent={meta.get('intent')} phase={meta.get('phase')} "
            f"outcome={meta.get('outcome')} handoff={meta.get('handoff')} "
            f"turn={meta.get('turn')} llm_calls={self.llm_calls} returning={self.returning}\n"
            f"kb_topics={self.kb_topics} guard_violations={self.guard_violations}\n"
            f"profile={self.profile}"
        )


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
        """A service with a fresh SQLite DB in a temp dir, talking to `ollama_url`.

        It sees only the configuration that is checked in plus what is given here:
        no feature flag or path from the developer's shell."""
        api_key = secrets.token_urlsafe(16)
        with tempfile.TemporaryDirectory(prefix="salesbot-dialogue-") as work:
            environ = {
                "API_KEY": api_key,
                "OLLAMA_BASE_URL": ollama_url,
                "DB_PATH": str(Path(work) / "conversations.db"),
                "LOG_LEVEL": "WARNING",
                # The dialogues specify behaviour on the lexical ranking: a dense
                # index built in the background would switch it mid-dialogue.
                "FF_dense_retrieval": "false",
            }
            if model:
                environ["OLLAMA_MODEL"] = model
            if kb_path:
                environ["KB_PATH"] = str(kb_path)
            # The index cache is only an optimization: without a directory given,
            # the developer's KB_CACHE_DIR (or settings.yaml's cache_dir) applies.
            cache = str(kb_cache_dir) if kb_cache_dir else os.environ.get("KB_CACHE_DIR")
            if cache is not None:
                environ["KB_CACHE_DIR"] = cache
            app = create_app(load_settings(environ=environ))
            transport = httpx.ASGITransport(app=app)
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=transport, base_url="http://salesbot") as http,
            ):
                yield cls(app, http, api_key)

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def apply_fixtures(self, dialogue: Dialogue) -> None:
        """Put the thread where the fixtures say, before the first message."""
        fixtures = dialogue.fixtures
        if fixtures is None:
            return
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
        user_id = dialogue.customer_id()
        started = time.perf_counter()
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
        observed.latency_s = time.perf_counter() - started
        if response.status_code == 200:
            payload = response.json()
            observed.answer = payload["answer"]
            observed.meta = payload["meta"]
        else:
            observed.error = response.text
        graph = self.runtime.graph_for(dialogue.session_id, user_id)
        snapshot = await graph.aget_state(thread_config(dialogue.session_id, user_id))
        values = snapshot.values or {}
        work = values.get("work") or {}
        observed.profile = dict(values.get("profile") or {})
        observed.kb_topics = list(work.get("kb_topics") or [])
        observed.guard_violations = list(work.get("guard_violations") or [])
        observed.returning = bool(work.get("returning"))
        observed.llm_calls = int(work.get("llm_calls") or 0)
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

"""The LLM client: `ChatOllama` built from settings, typed errors, and the two
kinds of call a system makes (a structured JSON-schema call and a plain-text one).

Every call sets `num_ctx`, a timeout, `keep_alive`, a temperature and thinking
off. Any failure of a call becomes `LLMUnavailable`, which an API maps to 503.
"""

from __future__ import annotations

import functools
import itertools
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import certifi
import httpx
import ollama
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_ollama import ChatOllama
from pydantic import BaseModel, ValidationError

from core.metrics import LLMMetrics
from core.settings import LLMSettings

T = TypeVar("T", bound=BaseModel)

REPAIR_PROMPT = (
    "Твой ответ не соответствует JSON-схеме: {error}. "
    "Ответь ещё раз только JSON-объектом по схеме, без пояснений."
)


class LLMUnavailable(RuntimeError):
    """Ollama is unreachable, too slow, lacks the model, or answered something unusable."""


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # httpx builds a verifying TLS context per client (tens of ms: it loads the
    # CA bundle); the service makes 2 × llm.http_clients of them, so they share one.
    return ssl.create_default_context(cafile=certifi.where())


# Ask Ollama for the whole reply in one response instead of a stream of tokens.
# Nobody reads a turn's tokens as they come (n8n gets one JSON answer), and
# langchain-ollama turns every streamed token into a message chunk, merges it and
# fires a callback: tens of microseconds a token on the event loop, milliseconds a
# call. It also makes `llm.timeout_s` what settings.yaml says it is, the wait for
# one call; a stream would only bound the gap between two tokens.
_WHOLE_REPLY = {"stream": False}


def build_chat_model(cfg: LLMSettings, *, temperature: float, max_tokens: int) -> ChatOllama:
    return ChatOllama(
        model=cfg.model,
        base_url=cfg.base_url,
        num_ctx=cfg.num_ctx,
        num_predict=max_tokens,
        temperature=temperature,
        keep_alive=cfg.keep_alive,
        reasoning=False,
        # httpx's default pool (100 connections) would queue turns beyond that
        # while they wait seconds for the model; Ollama does its own queueing.
        client_kwargs={
            "timeout": cfg.timeout_s,
            "verify": _tls_context(),
            "limits": httpx.Limits(max_connections=None, max_keepalive_connections=None),
        },
    )


def _describe(exc: BaseException) -> str:
    """The failure in a few words that never quote a prompt: the type, and the
    status of an HTTP error."""
    if isinstance(exc, ollama.ResponseError):
        return f"{type(exc).__name__} {exc.status_code}"
    return type(exc).__name__


def _usage(message: Any) -> tuple[int, int]:
    usage = getattr(message, "usage_metadata", None) or {}
    return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))


def _text(message: Any) -> str:
    return str(getattr(message, "content", "") or "")


def _parse(
    schema: type[T], message: Any, context: Mapping[str, Any] | None = None
) -> tuple[T | None, str]:
    """The reply as `schema`, or None with a short reason for the repair prompt.
    `context` reaches the schema's validators (pydantic's validation context)."""
    text = _text(message).strip()
    if not text:
        return None, "пустой ответ"
    try:
        return schema.model_validate_json(text, context=context), ""
    except ValidationError as exc:
        # Field paths and reasons only: the reply itself goes back as its own message.
        reasons = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'JSON'}: {e['msg']}" for e in exc.errors()[:5]
        )
        return None, reasons[:300]


@dataclass
class StructuredResult:
    """The parsed object (None after a failed repair) and how many calls it took."""

    value: BaseModel | None
    calls: int


class LLM:
    """The two models of a turn, sharing one configuration."""

    def __init__(self, cfg: LLMSettings, metrics: LLMMetrics):
        self.cfg = cfg
        self.metrics = metrics
        # Several clients, used in turn: httpx's connection pool scans all of its
        # connections for every request, so one pool serving hundreds of
        # concurrent (slow) calls costs more CPU than the turns themselves.
        self._analysis_models = [
            self._chat_model(
                temperature=cfg.analysis_temperature, max_tokens=cfg.analysis_max_tokens
            )
            for _ in range(cfg.http_clients)
        ]
        self._answer_models = [
            self._chat_model(temperature=cfg.temperature, max_tokens=cfg.answer_max_tokens)
            for _ in range(cfg.http_clients)
        ]
        self._next = itertools.count()
        # One bound runnable per schema and client: converting a pydantic schema
        # to JSON schema costs milliseconds, which a turn should not pay each time.
        self._structured: dict[tuple[type[BaseModel], int], Any] = {}

    def _chat_model(self, *, temperature: float, max_tokens: int) -> Any:
        """A model for one client slot; another provider's LLM overrides this and
        `_bind_schema`, and keeps the calls, metrics and repair as they are."""
        return build_chat_model(self.cfg, temperature=temperature, max_tokens=max_tokens).bind(
            **_WHOLE_REPLY
        )

    def _bind_schema(self, model: Any, schema: type[BaseModel]) -> Any:
        return model.bind(format=schema.model_json_schema())

    def _shard(self) -> int:
        return next(self._next) % self.cfg.http_clients

    async def _call(self, runnable: Any, messages: Sequence[BaseMessage], kind: str) -> Any:
        started = time.perf_counter()
        try:
            result = await runnable.ainvoke(list(messages))
        except Exception as exc:
            # Whatever goes wrong inside the call is the model's fault, not the
            # turn's: a connection refused or reset, a timeout, an HTTP error
            # status (a model not pulled, a runner that died, a request a replaced
            # model refuses), a body that is no JSON or is cut off. The turn can
            # be tried again, so it is "unavailable" (503), never a 500.
            self.metrics.calls.labels(kind=kind, status="unavailable").inc()
            raise LLMUnavailable(f"LLM call failed: {_describe(exc)}") from exc
        finally:
            self.metrics.latency.labels(kind=kind).observe(time.perf_counter() - started)
        prompt_tokens, answer_tokens = _usage(result)
        self.metrics.calls.labels(kind=kind, status="ok").inc()
        self.metrics.tokens.labels(kind=kind, direction="prompt").inc(prompt_tokens)
        self.metrics.tokens.labels(kind=kind, direction="completion").inc(answer_tokens)
        return result

    def _json_schema_model(self, schema: type[BaseModel]) -> Any:
        # What with_structured_output(method="json_schema") sends — the schema as
        # Ollama's `format` — bound once. Parsing is ours, so that the raw reply
        # is at hand for the repair prompt, and because langchain's wrapper
        # re-derives the schema for tracing metadata on every call.
        key = (schema, self._shard())
        runnable = self._structured.get(key)
        if runnable is None:
            model = self._analysis_models[key[1]]
            runnable = self._bind_schema(model, schema)
            self._structured[key] = runnable
        return runnable

    async def structured(
        self,
        messages: Sequence[BaseMessage],
        schema: type[T],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> StructuredResult:
        """One call with Ollama's JSON-schema `format`; one repair on invalid output.
        `context` is handed to the schema's validators, so that a check that needs
        the call's input (a quote that must occur in it) also triggers the repair."""
        model = self._json_schema_model(schema)
        reply = await self._call(model, messages, "analysis")
        parsed, error = _parse(schema, reply, context)
        if parsed is not None:
            return StructuredResult(parsed, 1)
        repair = [
            *messages,
            AIMessage(content=_text(reply)),
            HumanMessage(content=REPAIR_PROMPT.format(error=error)),
        ]
        self.metrics.repairs.inc()
        reply = await self._call(model, repair, "analysis_repair")
        parsed, _ = _parse(schema, reply, context)
        return StructuredResult(parsed, 2)

    async def text(self, messages: Sequence[BaseMessage]) -> str:
        message = await self._call(self._answer_models[self._shard()], messages, "answer")
        return str(message.content or "").strip()

    async def ping(self) -> bool:
        """Whether Ollama answers and has the configured model (for /ready)."""
        client = ollama.AsyncClient(
            host=self.cfg.base_url, timeout=min(self.cfg.timeout_s, 3.0), verify=_tls_context()
        )
        try:
            listing = await client.list()
        except Exception:
            return False
        names = {m.model for m in listing.models}
        return self.cfg.model in names or f"{self.cfg.model}:latest" in names

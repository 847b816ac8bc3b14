"""The LLM client: `ChatOllama` built from settings, typed errors, and the two
kinds of call a turn makes (a structured analysis and a plain-text answer).

Every call sets `num_ctx`, a timeout, `keep_alive`, a temperature and thinking
off. Transport failures become `LLMUnavailable`, which the API maps to 503.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import ollama
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_ollama import ChatOllama
from pydantic import BaseModel

from graph import metrics
from graph.settings import LLMSettings

T = TypeVar("T", bound=BaseModel)

REPAIR_PROMPT = (
    "Твой ответ не соответствует JSON-схеме: {error}. "
    "Ответь ещё раз только JSON-объектом по схеме, без пояснений."
)


class LLMUnavailable(RuntimeError):
    """Ollama is unreachable, too slow, or does not have the model."""


def build_chat_model(cfg: LLMSettings, *, temperature: float, max_tokens: int) -> ChatOllama:
    return ChatOllama(
        model=cfg.model,
        base_url=cfg.base_url,
        num_ctx=cfg.num_ctx,
        num_predict=max_tokens,
        temperature=temperature,
        keep_alive=cfg.keep_alive,
        reasoning=False,
        client_kwargs={"timeout": cfg.timeout_s},
    )


def _is_transport_error(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | httpx.HTTPError | TimeoutError):
        return True
    # 404 = model not pulled, 5xx = server trouble; both mean "no LLM right now".
    return isinstance(exc, ollama.ResponseError) and (
        exc.status_code == 404 or exc.status_code >= 500
    )


def _usage(message: Any) -> tuple[int, int]:
    usage = getattr(message, "usage_metadata", None) or {}
    return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))


@dataclass
class StructuredResult:
    """The parsed object (None after a failed repair) and how many calls it took."""

    value: BaseModel | None
    calls: int


class LLM:
    """The two models of a turn, sharing one configuration."""

    def __init__(self, cfg: LLMSettings):
        self.cfg = cfg
        self.analysis_model = build_chat_model(
            cfg, temperature=cfg.analysis_temperature, max_tokens=cfg.analysis_max_tokens
        )
        self.answer_model = build_chat_model(
            cfg, temperature=cfg.temperature, max_tokens=cfg.answer_max_tokens
        )

    @property
    def model_name(self) -> str:
        return self.cfg.model

    async def _call(self, runnable: Any, messages: Sequence[BaseMessage], kind: str) -> Any:
        started = time.perf_counter()
        try:
            result = await runnable.ainvoke(list(messages))
        except Exception as exc:
            if _is_transport_error(exc):
                metrics.LLM_CALLS.labels(kind=kind, status="unavailable").inc()
                raise LLMUnavailable(f"LLM call failed: {type(exc).__name__}") from exc
            raise
        finally:
            metrics.LLM_LATENCY.labels(kind=kind).observe(time.perf_counter() - started)
        raw = result["raw"] if isinstance(result, dict) else result
        prompt_tokens, answer_tokens = _usage(raw)
        metrics.LLM_CALLS.labels(kind=kind, status="ok").inc()
        metrics.LLM_TOKENS.labels(kind=kind, direction="prompt").inc(prompt_tokens)
        metrics.LLM_TOKENS.labels(kind=kind, direction="completion").inc(answer_tokens)
        return result

    async def structured(
        self, messages: Sequence[BaseMessage], schema: type[T]
    ) -> StructuredResult:
        """One call with Ollama's JSON-schema `format`; one repair on invalid output."""
        runnable = self.analysis_model.with_structured_output(
            schema, method="json_schema", include_raw=True
        )
        result = await self._call(runnable, messages, "analysis")
        if result.get("parsed") is not None and result.get("parsing_error") is None:
            return StructuredResult(result["parsed"], 1)
        raw = result.get("raw")
        error = str(result.get("parsing_error") or "пустой ответ")[:300]
        repair = [
            *messages,
            AIMessage(content=str(getattr(raw, "content", "") or "")),
            HumanMessage(content=REPAIR_PROMPT.format(error=error)),
        ]
        metrics.LLM_REPAIRS.inc()
        result = await self._call(runnable, repair, "analysis_repair")
        if result.get("parsed") is not None and result.get("parsing_error") is None:
            return StructuredResult(result["parsed"], 2)
        return StructuredResult(None, 2)

    async def text(self, messages: Sequence[BaseMessage]) -> str:
        message = await self._call(self.answer_model, messages, "answer")
        return str(message.content or "").strip()

    async def ping(self) -> bool:
        """Whether Ollama answers and has the configured model (for /ready)."""
        client = ollama.AsyncClient(host=self.cfg.base_url, timeout=min(self.cfg.timeout_s, 3.0))
        try:
            listing = await client.list()
        except Exception:
            return False
        names = {m.model for m in listing.models}
        return self.cfg.model in names or f"{self.cfg.model}:latest" in names

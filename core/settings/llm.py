"""settings.yaml `llm`: the Ollama model and how every call is made."""

from __future__ import annotations

from pydantic import Field

from core.settings.base import Strict


class LLMSettings(Strict):
    model: str = Field(min_length=1)
    base_url: str = Field(min_length=1)
    num_ctx: int = Field(ge=1024, le=131072)
    temperature: float = Field(ge=0.0, le=2.0)
    analysis_temperature: float = Field(ge=0.0, le=2.0)
    timeout_s: float = Field(gt=0, le=600)
    keep_alive: str | int
    analysis_max_tokens: int = Field(ge=32, le=8192)
    answer_max_tokens: int = Field(ge=32, le=8192)
    http_clients: int = Field(default=64, ge=1, le=256)

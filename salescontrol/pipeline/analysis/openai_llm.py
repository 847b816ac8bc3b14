"""The analysis through an OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp's
server …) instead of Ollama: `core.llm.LLM` with `langchain-openai`'s ChatOpenAI
under it and the schema as a `json_schema` response format. Calls, metrics, errors
(`LLMUnavailable`) and the one repair stay core's. Needs the extra `openai`."""

from __future__ import annotations

from typing import Any

from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from core.llm import LLM
from core.metrics import LLMMetrics
from core.settings import LLMSettings


class OpenAILLM(LLM):
    """`LLM` over the Chat Completions API; `ping` lists the endpoint's models."""

    def __init__(self, cfg: LLMSettings, metrics: LLMMetrics, *, api_key: str):
        self._api_key = SecretStr(api_key)
        super().__init__(cfg, metrics)

    def _chat_model(self, *, temperature: float, max_tokens: int) -> Any:
        # No retries inside the client: a failed call is the job's to retry, later.
        return ChatOpenAI(
            model=self.cfg.model,
            base_url=self.cfg.base_url,
            api_key=self._api_key,
            temperature=temperature,
            max_completion_tokens=max_tokens,
            timeout=self.cfg.timeout_s,
            max_retries=0,
        )

    def _bind_schema(self, model: Any, schema: type[BaseModel]) -> Any:
        # Not strict: OpenAI's strict mode refuses bounds such as minimum/maxItems,
        # and many compatible servers do not know it; the reply is validated here.
        response_format = {
            "type": "json_schema",
            "json_schema": {
                "name": schema.__name__,
                "schema": schema.model_json_schema(),
                "strict": False,
            },
        }
        return model.bind(response_format=response_format)

    async def ping(self) -> bool:
        """Whether the endpoint answers and serves the configured model."""
        try:
            listing = await self._analysis_models[0].root_async_client.models.list()
        except Exception:
            return False
        return any(m.id == self.cfg.model for m in listing.data)

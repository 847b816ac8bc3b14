"""The analysis through an OpenAI-compatible endpoint: the real ChatOpenAI client
(extra `openai`) against a tiny OpenAI-protocol stub in the test; and how
`build_llm` chooses the client from settings."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.util import find_spec
from typing import Any

import pytest
from pydantic import ValidationError

from core.llm import LLM, LLMUnavailable
from core.settings import AnalysisSettings, Settings, SettingsError, load_settings
from salescontrol.pipeline.analysis.analyse import analyse, build_llm
from tests.salescontrol.pipeline.test_analysis import TEXT, dialogue, reply

needs_openai = pytest.mark.skipif(
    find_spec("langchain_openai") is None,
    reason="langchain-openai is not installed (the extra `openai`: pip install -e '.[openai]')",
)
KEY = "sk-test-not-a-secret"


class OpenAIStub:
    """POST /v1/chat/completions answers the next scripted content (or a status);
    GET /v1/models lists one model. Requests and their headers are recorded."""

    def __init__(self, model: str = "judge-1"):
        self.model = model
        self.replies: deque[str | int] = deque()
        self.requests: list[dict[str, Any]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                models = [{"id": stub.model, "object": "model", "created": 0, "owned_by": "t"}]
                self._send(200, {"object": "list", "data": models})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                body["_auth"] = self.headers.get("Authorization")
                stub.requests.append(body)
                content = stub.replies.popleft()
                if isinstance(content, int):
                    self._send(content, {"error": {"message": "stub failure", "type": "server"}})
                    return
                message = {"role": "assistant", "content": content}
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                usage = {"prompt_tokens": 300, "completion_tokens": 60, "total_tokens": 360}
                completion = {"id": "c1", "object": "chat.completion", "created": 0}
                self._send(
                    200, completion | {"model": stub.model, "choices": [choice]} | {"usage": usage}
                )

        return Handler


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    stub = OpenAIStub()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


def with_analysis(settings: Settings, analysis: AnalysisSettings) -> Settings:
    speech = settings.salescontrol.speech.model_copy(update={"analysis": analysis})
    salescontrol = settings.salescontrol.model_copy(update={"speech": speech})
    business = settings.business.model_copy(update={"salescontrol": salescontrol})
    return settings.model_copy(update={"business": business})


@pytest.fixture
def openai_settings(openai_stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("JUDGE_KEY", KEY)
    settings = load_settings(environ={})
    own = settings.llm.model_copy(
        update={"model": openai_stub.model, "base_url": openai_stub.url, "http_clients": 1}
    )
    analysis = AnalysisSettings(provider="openai", llm=own, api_key_env="JUDGE_KEY")
    return with_analysis(settings, analysis)


@needs_openai
async def test_openai_endpoint_judges_and_repairs(
    openai_stub: OpenAIStub, openai_settings: Settings
) -> None:
    llm, model = build_llm(openai_settings)
    assert model == "judge-1"
    bad = reply(evidence=["Хотите маффин?"])
    openai_stub.replies.extend([json.dumps(bad), json.dumps(reply(), ensure_ascii=False)])
    coffee = openai_settings.salescontrol.businesses["coffee_shop"]
    result = await analyse(dialogue(), coffee, llm, AnalysisSettings(), model)
    first, second = openai_stub.requests
    assert first["_auth"] == f"Bearer {KEY}"
    assert first["model"] == "judge-1"
    schema = first["response_format"]["json_schema"]["schema"]
    assert first["response_format"]["type"] == "json_schema"
    assert schema["properties"]["categories"]["items"]["enum"] == list(coffee.categories)
    assert TEXT in first["messages"][-1]["content"]
    assert "нет в расшифровке" in second["messages"][-1]["content"]
    assert result.model_dump(include=set(reply())) == reply()
    assert result.model == "judge-1"
    assert await llm.ping()


@needs_openai
async def test_openai_endpoint_failure_is_unavailable(
    openai_stub: OpenAIStub, openai_settings: Settings
) -> None:
    llm, model = build_llm(openai_settings)
    openai_stub.replies.append(500)
    coffee = openai_settings.salescontrol.businesses["coffee_shop"]
    with pytest.raises(LLMUnavailable):
        await analyse(dialogue(), coffee, llm, AnalysisSettings(), model)
    assert len(openai_stub.requests) == 1  # no retries inside the client


def test_openai_needs_its_key(openai_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUDGE_KEY")
    with pytest.raises(SettingsError, match="JUDGE_KEY is not set"):
        build_llm(openai_settings)


def test_openai_needs_its_own_llm_section() -> None:
    with pytest.raises(ValidationError, match="provider openai needs its own `llm`"):
        AnalysisSettings(provider="openai")


def test_ollama_by_default_with_the_bots_or_its_own_model() -> None:
    settings = load_settings(environ={})
    llm, model = build_llm(settings)
    assert type(llm) is LLM
    assert model == settings.llm.model
    own = settings.llm.model_copy(update={"model": "judge:7b", "http_clients": 1})
    llm, model = build_llm(with_analysis(settings, AnalysisSettings(llm=own)))
    assert (type(llm), model, llm.cfg.model) == (LLM, "judge:7b", "judge:7b")

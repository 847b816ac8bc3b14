"""A bounded schemathesis run over the OpenAPI schema: no input the schema can
describe (valid or not) makes the service answer 5xx, and every error has the
contract's shape. The service runs under uvicorn on loopback, the LLM is the
Ollama stub with canned replies."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from tests.support.ollama_stub import OllamaStub, canned_reply

KEY = "fuzz-key"
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    mp = pytest.MonkeyPatch()
    stub = OllamaStub(fallback=canned_reply).start()
    tmp = tmp_path_factory.mktemp("fuzz")
    mp.setenv("API_KEY", KEY)
    mp.setenv("OLLAMA_BASE_URL", stub.url)
    mp.setenv("DB_PATH", str(tmp / "fuzz.db"))
    app = create_app()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield url, app.openapi()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        stub.stop()
        mp.undo()


def check_case(case: Any, url: str) -> None:
    for headers in ({"Authorization": f"Bearer {KEY}"}, {}):
        response = case.call(base_url=url, headers=headers, timeout=30)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
        if response.status_code >= 400:
            payload = response.json()
            assert set(payload) == {"error"}
            assert set(payload["error"]) == {"code", "message"}


def test_no_server_errors(live_api) -> None:  # type: ignore[no-untyped-def]
    url, spec = live_api
    # schemathesis's own pytest plugin does not run under pytest 9, so each
    # operation's hypothesis strategy is driven directly.
    operations = [
        result.ok() for result in schemathesis.openapi.from_dict(spec).get_all_operations()
    ]
    assert {op.path for op in operations} >= {"/api/v1/process", "/api/v1/users/{user_id}/profile"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            check_case(case, url)

        run()

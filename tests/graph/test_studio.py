"""`langgraph dev` (LangGraph Studio's server) serves `sales_bot` as is: two turns
through langgraph-sdk against the Ollama stub."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import GRAPH_KB, ROOT
from tests.support.net import free_port, stop, wait_until_up
from tests.support.ollama_stub import OllamaStub
from tests.support.replies import analysis

LANGGRAPH = Path(sys.executable).with_name("langgraph")
pytestmark = pytest.mark.slow


@pytest.fixture
def studio(tmp_path: Path):  # type: ignore[no-untyped-def]
    if not LANGGRAPH.exists():
        pytest.skip("langgraph-cli is not installed (dev extra)")
    with OllamaStub() as stub:
        port = free_port()
        env = {
            **os.environ,
            "OLLAMA_BASE_URL": stub.url,
            "KB_PATH": str(GRAPH_KB),
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            "LANGGRAPH_NO_VERSION_CHECK": "1",
            "LANGSMITH_TRACING": "false",
        }
        log = (tmp_path / "langgraph-dev.log").open("wb")
        proc = subprocess.Popen(
            [str(LANGGRAPH), "dev", "--no-browser", "--no-reload", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, proc)
            yield url, stub
        finally:
            stop(proc)
            log.close()


async def test_langgraph_dev_serves_sales_bot(studio) -> None:  # type: ignore[no-untyped-def]
    from langgraph_sdk import get_client

    url, stub = studio
    stub.push(
        analysis("greeting"),
        "Здравствуйте! Чем занимается ваш бизнес?",
        analysis("price_question", search_query="цена тарифов"),
        "Тариф Mini стоит 5 000 ₸ в год.",
    )
    client = get_client(url=url)
    assistants = await client.assistants.search(graph_id="sales_bot")
    assert assistants, "sales_bot is registered"
    thread = await client.threads.create()
    first = await client.runs.wait(
        thread["thread_id"],
        "sales_bot",
        input={"messages": [{"role": "user", "content": "Здравствуйте"}]},
    )
    second = await client.runs.wait(
        thread["thread_id"],
        "sales_bot",
        input={"messages": [{"role": "user", "content": "Сколько стоит?"}]},
    )
    assert first["work"]["answer"] == "Здравствуйте! Чем занимается ваш бизнес?"
    assert second["work"]["answer"] == "Тариф Mini стоит 5 000 ₸ в год."
    assert second["turn"] == 2
    assert [m["type"] for m in second["messages"]] == ["human", "ai", "human", "ai"]
    assert "pricing_tariffs" in second["work"]["kb_topics"]

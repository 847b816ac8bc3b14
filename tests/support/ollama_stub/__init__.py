"""An HTTP server that speaks Ollama's protocol, for tests, benchmarks and trying
the bot without a GPU: `OllamaStub` (scripted, in the test process) and the
standalone server (`python -m tests.support.ollama_stub`, `app`)."""

from tests.support.ollama_stub.demo import demo_reply
from tests.support.ollama_stub.protocol import DEFAULT_MODEL
from tests.support.ollama_stub.replies import (
    canned_reply,
    file_reply,
    fill_schema,
    searching_reply,
)
from tests.support.ollama_stub.server import NoScriptedReply, OllamaStub, Reply

__all__ = [
    "DEFAULT_MODEL",
    "NoScriptedReply",
    "OllamaStub",
    "Reply",
    "canned_reply",
    "demo_reply",
    "file_reply",
    "fill_schema",
    "searching_reply",
]

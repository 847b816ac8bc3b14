"""`OllamaStub`: a scripted Ollama on 127.0.0.1, in a thread of the test process.

It serves `/api/chat` the way Ollama does — NDJSON lines streamed one by one,
the last with `done: true` and token counts — plus `/api/tags`, `/api/show` and
`/api/version`. Replies come from a script (a queue of strings, or a function of
the request) and then from a fallback; every request is recorded so tests can
assert on prompts and on the JSON schema sent as `format`.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.ollama_stub.faults import Fault, FaultMode, chat_answer, wait_s
from tests.support.ollama_stub.protocol import DEFAULT_MODEL, chunk, done, model_entry

Reply = str | dict[str, Any] | Callable[[dict[str, Any]], str]


class NoScriptedReply(RuntimeError):
    pass


class _Server(ThreadingHTTPServer):
    # Benchmarks open hundreds of connections at once; the default backlog of 5
    # would refuse most of them.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a turn past its budget, a fault that hangs) is
        # the scenario under test, not something to print a traceback for.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class OllamaStub:
    """A scripted Ollama on 127.0.0.1. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        fallback: Callable[[dict[str, Any]], str] | None = None,
        delay_s: float = 0.0,
        models: Iterable[str] = (DEFAULT_MODEL,),
        port: int = 0,
        chunk_chars: int = 40,
        tokens_per_s: float | None = None,
    ):
        self.queue: deque[Reply] = deque(replies)
        self.fallback = fallback
        self.delay_s = delay_s
        self.models = list(models)
        self.chunk_chars = chunk_chars
        self.tokens_per_s = tokens_per_s
        """The generation speed the replies' timings report (None: instant)."""
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._fault = Fault()
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def fault(self) -> Fault:
        return self._fault

    def set_fault(self, mode: FaultMode, seconds: float = 0.0) -> None:
        """Play `mode` from the next call on (faults.py); "none" ends it."""
        self._fault = Fault(mode, seconds)

    def wait(self, seconds: float) -> None:
        """Sleep `seconds`, or less when the fault that asked for the wait ends."""
        fault = self._fault
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self._fault is fault:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def record(self, request: dict[str, Any], content: str) -> str:
        """Keep a request answered without a scripted reply (a fault's answer)."""
        with self._lock:
            self.requests.append(request)
        request["_reply"] = content
        return content

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self.queue.extend(replies)

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("_path") == "/api/chat"]

    def next_reply(self, request: dict[str, Any]) -> str:
        """The reply to `request`; both are kept (`request["_reply"]`) for assertions."""
        with self._lock:
            self.requests.append(request)
            reply: Reply | None = self.queue.popleft() if self.queue else None
        if reply is None:
            if self.fallback is None:
                raise NoScriptedReply("the stub has no scripted reply for this call")
            content = self.fallback(request)
        elif callable(reply):
            content = reply(request)
        elif isinstance(reply, dict):
            content = json.dumps(reply, ensure_ascii=False)
        else:
            content = reply
        request["_reply"] = content
        return content

    def lines(self, body: dict[str, Any], content: str) -> list[dict[str, Any]]:
        """The NDJSON objects Ollama would send for `content`, in order."""
        model = body.get("model", "")
        if not body.get("stream", True):
            return [self._done(model, content, body, content)]
        step = max(1, self.chunk_chars)
        pieces = [
            chunk(model, content[i : i + step], done=False) for i in range(0, len(content), step)
        ]
        return [*pieces, self._done(model, "", body, content)]

    def _done(self, model: str, text: str, body: dict[str, Any], content: str) -> dict[str, Any]:
        return done(
            model, text, body, content, tokens_per_s=self.tokens_per_s, extra_s=self.delay_s
        )

    def start(self) -> OllamaStub:
        self._server = _Server(("127.0.0.1", self._port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> OllamaStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as Ollama does: a client reuses its connection.
            protocol_version = "HTTP/1.1"
            # Small NDJSON writes on a kept-alive socket would otherwise wait
            # for delayed ACKs (Nagle): tens of milliseconds a call.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # silence stderr
                return

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _down(self) -> bool:
                if stub.fault.mode != "down":
                    return False
                self.close_connection = True  # closed without a word, as a dead server
                return True

            def _raw(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self._down():
                    return
                if self.path == "/api/tags":
                    self._json(200, {"models": [model_entry(m) for m in stub.models]})
                elif self.path == "/api/version":
                    self._json(200, {"version": "0.0.0-stub"})
                elif self.path in ("/", ""):
                    self._json(200, {"status": "Ollama is running"})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._json(400, {"error": "invalid JSON"})
                    return
                if self.path == "/_stub/fault":
                    stub._fault = Fault.parse(body)
                    self._json(200, {"mode": stub.fault.mode})
                    return
                if self._down():
                    return
                if self.path == "/api/show":
                    self._json(200, {"modelfile": "", "details": {}, "model_info": {}})
                    return
                if self.path != "/api/chat":
                    self._json(404, {"error": "not found"})
                    return
                model = body.get("model", "")
                if model not in stub.models:
                    self._json(404, {"error": f"model '{model}' not found"})
                    return
                body["_path"] = self.path
                fault = stub.fault
                stub.wait(wait_s(fault))
                answer = chat_answer(fault, body)
                if answer is not None and answer.status is not None:
                    stub.record(body, answer.body.decode())
                    self._raw(answer.status, answer.body, answer.content_type)
                    return
                if answer is not None and answer.content is not None:
                    self._stream(body, stub.record(body, answer.content))
                    return
                try:
                    content = stub.next_reply(body)
                except NoScriptedReply as exc:
                    stub.errors.append(str(exc))
                    self._json(500, {"error": str(exc)})
                    return
                if stub.delay_s:
                    time.sleep(stub.delay_s)
                self._stream(body, content)

            def _stream(self, body: dict[str, Any], content: str) -> None:
                # NDJSON lines as Ollama streams them, sent with chunked transfer
                # encoding so the connection stays open for the next call.
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for line in stub.lines(body, content):
                        self._line(line)
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (timeout)

            def _line(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

        return Handler

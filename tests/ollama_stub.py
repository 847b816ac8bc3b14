"""An HTTP server that speaks Ollama's protocol, for tests and benchmarks.

It serves `/api/chat` the way Ollama does — NDJSON lines streamed one by one,
the last with `done: true` and token counts — plus `/api/tags`, `/api/show` and
`/api/version`. Replies come from a script (a queue of strings, or a function of
the request); every request is recorded so tests can assert on prompts and on
the JSON schema sent as `format`.

Run standalone (benchmarks, `make run` demos, the n8n e2e) with:
    python tests/ollama_stub.py --port 11434 [--delay 2.0] [--answer-file PATH] [--search]
which answers every call with schema-shaped JSON or a fixed Russian sentence;
with --answer-file, free-text calls get the file's text instead while the file
exists and is not empty (it is read on every call, so a caller can change it);
with --search, the analysis asks the KB about the customer's message.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "ministral-3:14b-instruct-2512-q8_0"
CANNED_ANSWER = "Спасибо за сообщение №{n}! Подскажите, пожалуйста, чем занимается ваш бизнес?"

Reply = str | dict[str, Any] | Callable[[dict[str, Any]], str]


class NoScriptedReply(RuntimeError):
    pass


def fill_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """The smallest value that satisfies a JSON schema (first enum values, empty strings)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return fill_schema(defs[schema["$ref"].split("/")[-1]], defs)
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = schema[key]
            if any(o.get("type") == "null" for o in options):
                return None
            return fill_schema(options[0], defs)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: fill_schema(sub, defs) for name, sub in props.items()}
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}.get(str(kind))


def canned_reply(request: dict[str, Any]) -> str:
    """Schema-shaped JSON for structured calls; otherwise a fixed Russian answer
    that varies by a counter, so that the bot's repetition guard stays quiet."""
    schema = request.get("format")
    if isinstance(schema, dict):
        return json.dumps(fill_schema(schema), ensure_ascii=False)
    return CANNED_ANSWER.format(n=next(_answers))


_answers = itertools.count(1)


def searching_reply(request: dict[str, Any]) -> str:
    """Like canned_reply, but a structured reply that has a `search_query` asks the
    KB about the customer's message (the last line of the last prompt message, where
    the analysis prompt puts it), with the intent "unclear": the stub cannot tell a
    question from a statement, and a question the KB cannot answer would send every
    draft back to the model. Benchmarks use it so that their turns search the KB and
    put facts into the answer prompt, as real turns do."""
    schema = request.get("format")
    if not isinstance(schema, dict):
        return canned_reply(request)
    value = fill_schema(schema)
    properties = schema.get("properties", {})
    if isinstance(value, dict) and "search_query" in properties:
        messages = request.get("messages") or [{}]
        lines = str(messages[-1].get("content", "")).strip().splitlines()
        value["search_query"] = lines[-1] if lines else ""
        if "unclear" in properties.get("intent", {}).get("enum", []):
            value["intent"] = "unclear"
    return json.dumps(value, ensure_ascii=False)


def file_reply(path: str) -> Callable[[dict[str, Any]], str]:
    """Like canned_reply, but free-text calls get the text of `path` when it exists
    and is not empty, read anew on every call."""

    def reply(request: dict[str, Any]) -> str:
        if not isinstance(request.get("format"), dict):
            with contextlib.suppress(OSError):
                text = Path(path).read_text(encoding="utf-8").strip()
                if text:
                    return text
        return canned_reply(request)

    return reply


def estimate_tokens(text: str) -> int:
    # A stand-in for the model's tokenizer: Russian runs ~3 characters per token
    # in Mistral-family vocabularies.
    return max(1, len(text) // 3)


class _Server(ThreadingHTTPServer):
    # Benchmarks open hundreds of connections at once; the default backlog of 5
    # would refuse most of them.
    request_queue_size = 1024


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
    ):
        self.queue: deque[Reply] = deque(replies)
        self.fallback = fallback
        self.delay_s = delay_s
        self.models = list(models)
        self.chunk_chars = chunk_chars
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

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
            return [_done(model, content, body, content)]
        step = max(1, self.chunk_chars)
        pieces = [
            _chunk(model, content[i : i + step], done=False) for i in range(0, len(content), step)
        ]
        return [*pieces, _done(model, "", body, content)]

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

            def do_GET(self) -> None:
                if self.path == "/api/tags":
                    self._json(200, {"models": [_model_entry(m) for m in stub.models]})
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


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _model_entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": _now(),
        "size": 9_300_000_000,
        "digest": "0" * 64,
        "details": {"format": "gguf", "family": "mistral", "parameter_size": "14B"},
    }


def _chunk(model: str, text: str, *, done: bool) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": _now(),
        "message": {"role": "assistant", "content": text},
        "done": done,
    }


def _done(model: str, text: str, request: dict[str, Any], content: str) -> dict[str, Any]:
    prompt = "".join(str(m.get("content", "")) for m in request.get("messages", []))
    return {
        **_chunk(model, text, done=True),
        "done_reason": "stop",
        "total_duration": 1,
        "load_duration": 0,
        "prompt_eval_count": estimate_tokens(prompt),
        "prompt_eval_duration": 1,
        "eval_count": estimate_tokens(content),
        "eval_duration": 1,
    }


def asgi_app(stub: OllamaStub) -> Any:
    """The same protocol as an ASGI app, for the standalone server: one event loop
    serves hundreds of concurrent slow calls (benchmarks), where a thread per
    connection would spend its time fighting over the GIL."""
    import asyncio

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def chat(request: Request) -> Any:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return JSONResponse({"error": "invalid JSON"}, status_code=400)
        model = body.get("model", "")
        if model not in stub.models:
            return JSONResponse({"error": f"model '{model}' not found"}, status_code=404)
        body["_path"] = "/api/chat"
        try:
            content = stub.next_reply(body)
        except NoScriptedReply as exc:
            return JSONResponse({"error": str(exc)}, status_code=500)
        if stub.delay_s:
            await asyncio.sleep(stub.delay_s)
        lines = [json.dumps(x, ensure_ascii=False) + "\n" for x in stub.lines(body, content)]
        # All lines in one body, as an instant model would produce them; a
        # StreamingResponse over a list iterates it in Starlette's thread pool, a
        # thread hop per line that benchmarks would count as the service's time.
        return Response("".join(lines), media_type="application/x-ndjson")

    async def tags(request: Request) -> JSONResponse:
        return JSONResponse({"models": [_model_entry(m) for m in stub.models]})

    async def version(request: Request) -> JSONResponse:
        return JSONResponse({"version": "0.0.0-stub"})

    async def show(request: Request) -> JSONResponse:
        return JSONResponse({"modelfile": "", "details": {}, "model_info": {}})

    async def root(request: Request) -> JSONResponse:
        return JSONResponse({"status": "Ollama is running"})

    return Starlette(
        routes=[
            Route("/api/chat", chat, methods=["POST"]),
            Route("/api/tags", tags),
            Route("/api/version", version),
            Route("/api/show", show, methods=["POST"]),
            Route("/", root),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Ollama-protocol stub server")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--model", action="append", help="model names to advertise")
    parser.add_argument(
        "--answer-file", help="answer free-text calls with this file's text (read per call)"
    )
    parser.add_argument(
        "--search",
        action="store_true",
        help="structured replies search the KB for the customer's message (benchmarks)",
    )
    args = parser.parse_args()
    import uvicorn

    if args.answer_file:
        fallback = file_reply(args.answer_file)
    else:
        fallback = searching_reply if args.search else canned_reply
    stub = OllamaStub(
        fallback=fallback,
        delay_s=args.delay,
        models=args.model or [DEFAULT_MODEL],
    )
    print(f"ollama stub listening on http://127.0.0.1:{args.port}", flush=True)
    uvicorn.run(
        asgi_app(stub),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=2048,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()

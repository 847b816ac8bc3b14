"""The stub as a standalone server (`python -m tests.support.ollama_stub`, `make
stub`): for trying the bot without a GPU, the benchmarks and the n8n end-to-end
run. One event loop serves hundreds of concurrent slow calls, where a thread per
connection would spend its time fighting over the GIL."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.ollama_stub.demo import demo_reply
from tests.support.ollama_stub.faults import Fault, chat_answer, wait_s
from tests.support.ollama_stub.protocol import DEFAULT_MODEL, model_entry
from tests.support.ollama_stub.replies import canned_reply, file_reply, searching_reply
from tests.support.ollama_stub.server import NoScriptedReply, OllamaStub


def asgi_app(stub: OllamaStub, parallel: int | None = None) -> Starlette:
    """The same protocol as `OllamaStub`'s threaded server, as an ASGI app.

    `parallel` plays one GPU's capacity, as Ollama's OLLAMA_NUM_PARALLEL does: at
    most that many calls spend their `delay_s` at once, the others wait in line
    (None: every call at once, a model with no capacity limit).
    """
    slots: contextlib.AbstractAsyncContextManager[Any] = (
        asyncio.Semaphore(parallel) if parallel else contextlib.nullcontext()
    )

    async def chat(request: Request) -> Any:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return JSONResponse({"error": "invalid JSON"}, status_code=400)
        model = body.get("model", "")
        if model not in stub.models:
            return JSONResponse({"error": f"model '{model}' not found"}, status_code=404)
        body["_path"] = "/api/chat"
        fault = stub.fault
        await _wait(stub, fault)
        answer = chat_answer(fault, body)
        if answer is not None and answer.status is not None:
            stub.record(body, answer.body.decode())
            return Response(answer.body, answer.status, media_type=answer.content_type)
        if answer is not None and answer.content is not None:
            content = stub.record(body, answer.content)
        else:
            try:
                content = stub.next_reply(body)
            except NoScriptedReply as exc:
                return JSONResponse({"error": str(exc)}, status_code=500)
        if stub.delay_s:
            async with slots:
                await asyncio.sleep(stub.delay_s)
        lines = [json.dumps(x, ensure_ascii=False) + "\n" for x in stub.lines(body, content)]
        # All lines in one body, as an instant model would produce them; a
        # StreamingResponse over a list iterates it in Starlette's thread pool, a
        # thread hop per line that benchmarks would count as the service's time.
        return Response("".join(lines), media_type="application/x-ndjson")

    async def set_fault(request: Request) -> JSONResponse:
        try:
            fault = Fault.parse(await request.json())
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if fault.mode == "down":
            # An ASGI app cannot drop a connection unanswered: stop the process instead.
            return JSONResponse({"error": "stop the stub's process to play down"}, status_code=400)
        stub.set_fault(fault.mode, fault.seconds)
        return JSONResponse({"mode": fault.mode})

    async def tags(request: Request) -> JSONResponse:
        return JSONResponse({"models": [model_entry(m) for m in stub.models]})

    async def version(request: Request) -> JSONResponse:
        return JSONResponse({"version": "0.0.0-stub"})

    async def show(request: Request) -> JSONResponse:
        return JSONResponse({"modelfile": "", "details": {}, "model_info": {}})

    async def root(request: Request) -> JSONResponse:
        return JSONResponse({"status": "Ollama is running"})

    return Starlette(
        routes=[
            Route("/api/chat", chat, methods=["POST"]),
            Route("/_stub/fault", set_fault, methods=["POST"]),
            Route("/api/tags", tags),
            Route("/api/version", version),
            Route("/api/show", show, methods=["POST"]),
            Route("/", root),
        ]
    )


async def _wait(stub: OllamaStub, fault: Fault) -> None:
    """Sleep what the fault asks for, or less when it ends meanwhile."""
    deadline = asyncio.get_running_loop().time() + wait_s(fault)
    while stub.fault is fault and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)


def _bind(port: int) -> socket.socket:
    """The listening socket, bound before anything is announced: a port that is
    taken is reported as such, and nothing claims to listen on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise SystemExit(
            f"ollama stub: cannot listen on 127.0.0.1:{port}: {exc.strerror}"
        ) from None
    return sock


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.ollama_stub",
        description="An Ollama-protocol stub server on 127.0.0.1 (no model, no GPU)",
    )
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument(
        "--parallel",
        type=int,
        help="calls that spend --delay at once, the rest wait in line "
        "(one GPU's OLLAMA_NUM_PARALLEL; default: no limit)",
    )
    parser.add_argument("--model", action="append", help="model names to advertise")
    parser.add_argument(
        "--tokens-per-s",
        type=float,
        help="the generation speed the replies' timings report (default: instant)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--demo",
        action="store_true",
        help="show the bot's real flow: analyses read the message (intent, profile facts, "
        "next phase) and search the KB for it; answers are built from the KB facts in "
        "the prompt and ask for what the phase still needs",
    )
    mode.add_argument(
        "--search",
        action="store_true",
        help="analyses search the KB for the customer's message; answers are a canned "
        "sentence (benchmarks)",
    )
    mode.add_argument(
        "--answer-file", help="answer free-text calls with this file's text (read per call)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.answer_file:
        fallback = file_reply(args.answer_file)
    elif args.demo:
        fallback = demo_reply
    else:
        fallback = searching_reply if args.search else canned_reply
    stub = OllamaStub(
        fallback=fallback,
        delay_s=args.delay,
        models=args.model or [DEFAULT_MODEL],
        tokens_per_s=args.tokens_per_s,
    )
    sock = _bind(args.port)
    mode = "demo" if args.demo else "search" if args.search else "canned"
    print(f"ollama stub ({mode} replies) listening on http://127.0.0.1:{args.port}", flush=True)
    config = uvicorn.Config(
        asgi_app(stub, args.parallel),
        log_level="warning",
        access_log=False,
        backlog=2048,
        timeout_keep_alive=30,
    )
    uvicorn.Server(config).run(sockets=[sock])

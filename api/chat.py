"""`salesbot chat`: the interactive console of the runbook.

Talks to the same graph, memory and KB as the service, on the thread of
(--session, --user), so a conversation continues across runs with the same ids
and DB_PATH (or DATABASE_URL). With stdin from a pipe it prints one answer per input line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from api.database import CustomerLocks, database_url, open_database
from core.concurrency import KeyedLocks
from core.db import prepare_directory
from core.llm import LLMUnavailable
from core.settings import Settings, load_settings
from graph.builder import SalesGraph, compile_graph
from graph.context import build_services
from graph.memory import open_checkpointer
from graph.threads import thread_id_for
from graph.turn import run_turn

QUIT = {"/quit", "/exit"}


@asynccontextmanager
async def _memory(settings: Settings) -> AsyncIterator[tuple[SalesGraph, CustomerLocks]]:
    """The graph on the service's memory, and the customer locks its turns take:
    the SQLite file (DB_PATH), or with DATABASE_URL the PostgreSQL state the
    service's instances share, whose per-customer lock the console takes too."""
    if database_url(settings) is None:
        prepare_directory(settings.env.db_path)
        async with open_checkpointer(settings.env.db_path, settings.env.sqlite) as saver:
            yield compile_graph(saver), KeyedLocks()
        return
    async with open_database(settings) as database:
        yield database.graphs[0], database.locks


async def _chat(session_id: str, user_id: str) -> int:
    settings = load_settings()
    services = build_services(settings)
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"Wipon sales bot ({settings.llm.model}). /quit — выход.")
    async with _memory(settings) as (graph, locks):
        while True:
            if interactive:
                print("> ", end="", flush=True)
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            if text in QUIT:
                break
            try:
                async with locks.hold(thread_id_for(session_id, user_id)):
                    result = await run_turn(graph, services, session_id, user_id, text)
            except LLMUnavailable as exc:
                print(f"[LLM недоступен: {exc}; сообщение сохранено]", file=sys.stderr)
                continue
            print(result.answer, flush=True)
    return 0


def chat_main(args: argparse.Namespace) -> int:
    return asyncio.run(_chat(args.session, args.user))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="talk to the bot in the terminal")
    p.add_argument("--session", default="console", help="bot account id (session_id)")
    p.add_argument("--user", default="console-user", help="customer id (user_id)")
    p.set_defaults(func=chat_main)

"""Runtime dependencies of a turn, passed to nodes through LangGraph's
`context_schema` instead of globals.

The API and the console build `Services` once and pass them in `TurnContext`.
LangGraph Studio's server only knows the JSON-friendly ids, so when no services
come with the context they are built from settings and the environment, once
per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Protocol

from langgraph.runtime import Runtime

from core.llm import LLM
from core.settings import Settings, load_settings
from graph.metrics import sales_llm_metrics
from kb import KBHolder, KnowledgeBase
from rules.guards import Guard


class KBSource(Protocol):
    """Anything that hands out the current KB (a holder that can hot-reload it)."""

    @property
    def current(self) -> KnowledgeBase: ...


@dataclass
class Services:
    settings: Settings
    llm: LLM
    kb: KBSource
    guard: Guard
    """The guards compiled from settings once (their regexes), shared by all turns."""


@dataclass
class TurnContext:
    """The runtime context of one turn."""

    session_id: str = ""
    user_id: str = ""
    services: Services | None = None


def build_services(settings: Settings, kb: KBSource | None = None) -> Services:
    if kb is None:
        # Lexical at once, hybrid when the dense index is ready (kb.holder): a
        # console or Studio start never waits minutes for an embedding build.
        kb = KBHolder(settings.kb, dense=settings.flags.dense_retrieval)
    return Services(
        settings=settings,
        llm=LLM(settings.llm, sales_llm_metrics()),
        kb=kb,
        guard=Guard(settings.guards),
    )


@functools.cache
def default_services() -> Services:
    """Services for a graph run without them (LangGraph Studio)."""
    return build_services(load_settings())


def services_of(runtime: Runtime[TurnContext]) -> Services:
    context = runtime.context
    if context is not None and context.services is not None:
        return context.services
    return default_services()

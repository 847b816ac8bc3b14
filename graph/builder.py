"""Builds the sales graph.

    intent ─┬─► handoff ─► END
            └─► retrieve ─┬─► objection ─► generate ─► guard ─┬─► END
                          └─────────────► generate            └─► generate (one retry)

`build_graph()` returns the uncompiled builder; `compile_graph()` compiles it
with or without a checkpointer (the LangGraph server brings its own).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable
from typing import Any, Protocol

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from graph import metrics
from graph.context import TurnContext
from graph.routing import route_after_guard, route_after_intent, route_after_retrieve
from graph.state import InputState, SalesState
from nodes.generate import generate_answer
from nodes.guard import check_answer
from nodes.handoff import hand_off
from nodes.intent import analyze_message
from nodes.objection import handle_objection
from nodes.retrieve import retrieve_facts


class Node(Protocol):
    def __call__(
        self, state: SalesState, runtime: Runtime[TurnContext]
    ) -> Awaitable[dict[str, Any]]: ...


SalesGraph = CompiledStateGraph[SalesState, TurnContext, InputState, SalesState]


def _timed(name: str, node: Node) -> Node:
    """Record each node's wall time in the per-node latency histogram."""

    @functools.wraps(node)
    async def wrapper(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            return await node(state, runtime)
        finally:
            metrics.NODE_LATENCY.labels(node=name).observe(time.perf_counter() - started)

    return wrapper


NODES: dict[str, Node] = {
    "intent": analyze_message,
    "retrieve": retrieve_facts,
    "objection": handle_objection,
    "generate": generate_answer,
    "guard": check_answer,
    "handoff": hand_off,
}


def build_graph() -> StateGraph[SalesState, TurnContext, InputState, SalesState]:
    builder = StateGraph(SalesState, context_schema=TurnContext, input_schema=InputState)
    for name, node in NODES.items():
        builder.add_node(name, _timed(name, node))
    builder.add_edge(START, "intent")
    builder.add_conditional_edges("intent", route_after_intent)
    builder.add_conditional_edges("retrieve", route_after_retrieve)
    builder.add_edge("objection", "generate")
    builder.add_edge("generate", "guard")
    builder.add_conditional_edges(
        "guard", route_after_guard, {"generate": "generate", "__end__": END}
    )
    builder.add_edge("handoff", END)
    return builder


def compile_graph(checkpointer: BaseCheckpointSaver | None = None) -> SalesGraph:
    return build_graph().compile(checkpointer=checkpointer, name="sales_bot")

"""LangGraph Studio entry (`langgraph.json` → `sales_bot`): the graph compiled
without a checkpointer, because the LangGraph server supplies its own.

The server passes only JSON context, so the LLM and KB are built here from
settings and the environment — at import, not inside the first run, because the
server rejects blocking file I/O on its event loop.
"""

from graph.builder import compile_graph
from graph.context import default_services

default_services()
graph = compile_graph()

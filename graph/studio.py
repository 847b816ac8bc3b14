"""LangGraph Studio entry (`langgraph.json` → `sales_bot`): the graph compiled
without a checkpointer, because the LangGraph server supplies its own. The LLM
and KB are built from settings and the environment on first use."""

from graph.builder import compile_graph

graph = compile_graph()

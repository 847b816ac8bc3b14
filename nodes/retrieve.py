"""Retrieve node: search the KB for this turn's facts.

The query is the analysis's standalone query (follow-ups already resolved). The
current phase's categories are boosted; on an objection the strategy's own query
adds the facts that answer the doubt. An empty result is kept as a signal: the
answer then says it will check instead of improvising.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from graph.context import TurnContext, services_of
from graph.state import SalesState
from kb import Hit, KnowledgeBase

OBJECTION_EXTRA_HITS = 2
INLINE_QUERY_CHARS = 200


async def _search(kb: KnowledgeBase, query: str, k: int, categories: list[str] | None) -> list[Hit]:
    if kb.embeds_queries or len(query) > INLINE_QUERY_CHARS:
        # Off the event loop: a dense query embedding takes tens of milliseconds,
        # and so does the lexical analysis of a long message (the query falls back
        # to the customer's text, up to api.max_text_chars).
        return await asyncio.to_thread(kb.search, query, k, categories)
    # A short lexical query takes about a millisecond; a thread hop would cost
    # about as much again.
    return kb.search(query, k, categories)


async def retrieve_facts(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    services = services_of(runtime)
    settings = services.settings
    kb = services.kb.current
    phase = state.get("phase") or settings.flow.start_phase
    categories = (
        settings.flow.phases[phase].kb_categories  # type: ignore[index]
        if settings.flags.phase_category_boost
        else None
    )
    query = state.get("search_query", "")
    hits = await _search(kb, query, settings.kb.top_k, categories or None)

    objection = state.get("objection_type")
    if objection and settings.flags.objection_handling:
        strategy = settings.objections.strategies[objection]  # type: ignore[index]
        extra = await _search(kb, strategy.kb_query, OBJECTION_EXTRA_HITS, None)
        seen = {h.topic for h in hits}
        hits = hits + [h for h in extra if h.topic not in seen]

    topics = [h.topic for h in hits]
    return {
        "kb_facts": [
            {"topic": h.topic, "category": h.category, "facts": h.facts, "score": h.score}
            for h in hits
        ],
        "kb_topics": topics,
        "recent_topics": topics,
        "kb_relevant": bool(hits),
    }

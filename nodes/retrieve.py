"""Retrieve node: search the KB for this turn's facts.

The query is the analysis's standalone query (follow-ups already resolved). The
current phase's categories are boosted; on an objection the strategy's own query
adds the facts that answer the doubt. When no hit of a question reaches
kb.relevant_score the KB has nothing on it and no facts are given; that empty result is
kept as a signal: the answer then says it will check instead of improvising.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from core.taxonomy import QUESTION_INTENTS
from graph.context import TurnContext, services_of
from graph.state import Fact, SalesState, phase_of, work_of
from kb import Hit, KnowledgeBase

OBJECTION_EXTRA_HITS = 2
INLINE_QUERY_CHARS = 200


async def _search(kb: KnowledgeBase, query: str, k: int, categories: list[str] | None) -> list[Hit]:
    if kb.embeds_queries or len(query) > INLINE_QUERY_CHARS:
        # Off the event loop: a dense query embedding, or the lexical analysis of
        # a long message (the query falls back to the customer's text, up to
        # api.max_text_chars), holds it for tens of milliseconds.
        return await asyncio.to_thread(kb.search, query, k, categories)
    # A short lexical query costs less than a thread hop.
    return kb.search(query, k, categories)


def answers_question(hits: list[Hit], relevant_score: float) -> bool:
    """Whether the KB has something on the question: its best hit reaches the
    calibrated relevance (kb.relevant_score)."""
    return any(h.score >= relevant_score for h in hits)


async def retrieve_facts(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    services = services_of(runtime)
    settings = services.settings
    kb = services.kb.current
    work = work_of(state)
    categories = (
        settings.flow.phases[phase_of(state, settings.flow)].kb_categories
        if settings.flags.phase_category_boost
        else None
    )
    hits = await _search(kb, work.get("search_query", ""), settings.kb.top_k, categories or None)
    if work.get("intent") in QUESTION_INTENTS and not answers_question(
        hits, settings.kb.relevant_score
    ):
        # Loosely related sections would only give the model something to build
        # an invented answer on; without facts it says it will check. (A doubt or
        # a story about the business is no question: related facts help there.)
        hits = []

    objection = work.get("objection_type")
    if objection and settings.flags.objection_handling:
        strategy = settings.objections.strategies[objection]
        extra = await _search(kb, strategy.kb_query, OBJECTION_EXTRA_HITS, None)
        seen = {h.topic for h in hits}
        hits = hits + [h for h in extra if h.topic not in seen]

    topics = [h.topic for h in hits]
    facts: list[Fact] = [
        {"topic": h.topic, "category": h.category, "facts": h.facts, "score": h.score} for h in hits
    ]
    return {
        "work": {"kb_facts": facts, "kb_topics": topics, "kb_relevant": bool(hits)},
        "recent_topics": topics,
    }

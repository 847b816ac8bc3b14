"""Routers of the sales graph."""

from __future__ import annotations

from graph.routing import route_after_guard, route_after_intent, route_after_retrieve


def test_routers() -> None:
    assert route_after_intent({"handoff": True, "work": {"handoff_notice": True}}) == "handoff"
    # Handed off already: a question is still answered.
    assert route_after_intent({"handoff": True, "work": {"handoff_notice": False}}) == "retrieve"
    assert route_after_intent({"handoff": False}) == "retrieve"
    assert route_after_retrieve({"work": {"intent": "objection"}}) == "objection"
    assert route_after_retrieve({"work": {"intent": "refusal"}}) == "objection"
    assert route_after_retrieve({"work": {"intent": "price_question"}}) == "generate"
    assert route_after_retrieve({}) == "generate"
    assert route_after_guard({"work": {"guard_feedback": ["unknown_price"]}}) == "generate"
    assert route_after_guard({"work": {"guard_feedback": []}}) == "__end__"

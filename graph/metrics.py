"""Prometheus metrics of the sales turn. Module-level collectors are the
prometheus-client convention: they register once per process in the default
registry, which `GET /metrics` exposes."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Buckets from milliseconds (deterministic nodes) to a minute (LLM on a cold GPU).
_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60)

TURNS = Counter("salesbot_turns_total", "Turns answered", ["phase", "intent"])
TURN_LATENCY = Histogram(
    "salesbot_turn_seconds", "Wall time of a whole turn", buckets=_LATENCY_BUCKETS
)
NODE_LATENCY = Histogram(
    "salesbot_node_seconds", "Wall time per graph node", ["node"], buckets=_LATENCY_BUCKETS
)
LLM_CALLS = Counter("salesbot_llm_calls_total", "LLM calls", ["kind", "status"])
LLM_LATENCY = Histogram(
    "salesbot_llm_seconds", "LLM call latency", ["kind"], buckets=_LATENCY_BUCKETS
)
LLM_TOKENS = Counter("salesbot_llm_tokens_total", "LLM tokens", ["kind", "direction"])
LLM_SKIPPED = Counter(
    "salesbot_llm_skipped_total", "LLM calls a turn did without (deterministic shortcut)", ["kind"]
)
LLM_REPAIRS = Counter("salesbot_llm_repairs_total", "Structured outputs that needed a repair call")
LLM_DEFAULTS = Counter(
    "salesbot_llm_default_analysis_total", "Turns answered with the safe default analysis"
)
GUARD_VIOLATIONS = Counter(
    "salesbot_guard_violations_total", "Guard violations found in drafts", ["code"]
)
GUARD_EDITS = Counter(
    "salesbot_guard_edits_total", "Drafts fixed by cutting a sentence instead of a regeneration"
)
GUARD_FALLBACKS = Counter(
    "salesbot_guard_fallbacks_total", "Answers repaired deterministically after a retry"
)
ERRORS = Counter("salesbot_errors_total", "API errors returned", ["code"])
ACTIVE_CONVERSATIONS = Gauge(
    "salesbot_active_conversations", "Conversations with a turn in the last 24 hours"
)
IN_FLIGHT = Gauge("salesbot_turns_in_flight", "Turns being processed right now")

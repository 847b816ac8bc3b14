"""Prometheus metrics of the sales turn and its nodes. Module-level collectors
are the prometheus-client convention: they register once per process in the
default registry, which `GET /metrics` exposes."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from core.metrics import LATENCY_BUCKETS, LLMMetrics, llm_metrics

NAMESPACE = "salesbot"


def sales_llm_metrics() -> LLMMetrics:
    """The LLM client's collectors under the sales bot's names."""
    return llm_metrics(NAMESPACE)


TURNS = Counter("salesbot_turns_total", "Turns answered", ["phase", "intent"])
NODE_LATENCY = Histogram(
    "salesbot_node_seconds", "Wall time per graph node", ["node"], buckets=LATENCY_BUCKETS
)
LLM_SKIPPED = Counter(
    "salesbot_llm_skipped_total", "LLM calls a turn did without (deterministic shortcut)", ["kind"]
)
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

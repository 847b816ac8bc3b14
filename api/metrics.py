"""Prometheus metrics of the HTTP service (the turn's own are graph.metrics)."""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

from core.metrics import LATENCY_BUCKETS, error_counter
from graph.metrics import NAMESPACE

ERRORS = error_counter(NAMESPACE)
TURN_LATENCY = Histogram(
    "salesbot_turn_seconds", "Wall time of a whole turn", buckets=LATENCY_BUCKETS
)
ACTIVE_CONVERSATIONS = Gauge(
    "salesbot_active_conversations", "Conversations with a turn in the last 24 hours"
)
IN_FLIGHT = Gauge("salesbot_turns_in_flight", "Turns being processed right now")

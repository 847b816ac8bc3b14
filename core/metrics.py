"""Prometheus collectors that several systems need, made per namespace
(`salesbot_llm_calls_total`, `salescontrol_llm_calls_total`).

prometheus-client registers a collector once per process in its default
registry (which `GET /metrics` exposes), so each namespace's collectors are made
once and cached.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from prometheus_client import Counter, Histogram

# From milliseconds (deterministic steps) to a minute (an LLM on a cold GPU).
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 60)


@dataclass(frozen=True, slots=True)
class LLMMetrics:
    calls: Counter
    latency: Histogram
    tokens: Counter
    repairs: Counter


@functools.cache
def llm_metrics(namespace: str) -> LLMMetrics:
    """The LLM client's collectors for one system."""
    return LLMMetrics(
        calls=Counter(f"{namespace}_llm_calls_total", "LLM calls", ["kind", "status"]),
        latency=Histogram(
            f"{namespace}_llm_seconds", "LLM call latency", ["kind"], buckets=LATENCY_BUCKETS
        ),
        tokens=Counter(f"{namespace}_llm_tokens_total", "LLM tokens", ["kind", "direction"]),
        repairs=Counter(
            f"{namespace}_llm_repairs_total", "Structured outputs that needed a repair call"
        ),
    )


@functools.cache
def error_counter(namespace: str) -> Counter:
    """HTTP error responses by error code (core.http.CountErrors)."""
    return Counter(f"{namespace}_errors_total", "API errors returned", ["code"])

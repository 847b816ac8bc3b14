"""Prometheus metrics of the ingest API."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from core.metrics import LATENCY_BUCKETS, error_counter

NAMESPACE = "salescontrol"

ERRORS = error_counter(NAMESPACE)
UPLOADS = Counter("salescontrol_uploads_total", "Chunk uploads answered", ["outcome"])
UPLOAD_BYTES = Counter("salescontrol_upload_bytes_total", "Bytes of chunks stored")
UPLOAD_SECONDS = Histogram(
    "salescontrol_upload_seconds", "Wall time of a chunk upload", buckets=LATENCY_BUCKETS
)
HEARTBEATS = Counter("salescontrol_heartbeats_total", "Device heartbeats received")

"""Fixtures of the KB tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_env_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's KB_CACHE_DIR must not leak into tests that choose their cache."""
    monkeypatch.delenv("KB_CACHE_DIR", raising=False)

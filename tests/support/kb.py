"""KB settings for tests that open a KB directly (no settings.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.settings import DenseSettings, KBSettings


def kb_settings(
    path: Path | None, cache: Path | str, *, min_similarity: float = 0.75, **extra: Any
) -> KBSettings:
    """`path` (None: the bundled KB) with its index cache in `cache`, FRIDA's
    prefixes and the given dense floor."""
    return KBSettings(
        path=str(path) if path else None,
        top_k=4,
        min_score=0.25,
        cache_dir=str(cache),
        dense=DenseSettings(
            model="ai-forever/FRIDA",
            query_prefix="search_query: ",
            document_prefix="search_document: ",
            min_similarity=min_similarity,
        ),
        **extra,
    )

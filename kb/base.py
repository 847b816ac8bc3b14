"""The KnowledgeBase the graph talks to, how it is opened, and hot reload.

`KnowledgeBase.search` ranks every section with the lexical index (and, when dense
retrieval is on, fuses it with the dense similarities, by standardized scores or by
reciprocal rank), boosts the current phase's categories, and drops what is below
the relevance floor, so an empty list means "the KB has nothing on this".

Categories are boosted, not filtered: a customer in the pricing phase may still ask
about delivery, and a hard filter would answer that with pricing facts or nothing.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from core.settings import KBSettings
from core.text.morph import morph
from kb.cache import cache_key, cached, resolve_cache_dir
from kb.dense import (
    DENSE_VERSION,
    DenseIndex,
    embeddings_id,
    load_embeddings,
    resolve,
)
from kb.lexical import LexicalIndex, index_fingerprint
from kb.loader import BUNDLED_KB, content_hash, read_kb
from kb.text import analyzer_fingerprint
from kb.types import Hit, Section

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

log = logging.getLogger(__name__)

RRF_K = 60
"""Reciprocal-rank constant: the usual value; it damps the difference between the
first few ranks so that neither retriever dominates the fusion."""
FUSION_DEPTH = 50
"""How many top sections of each retriever take part in reciprocal-rank fusion."""
DEFAULT_CATEGORY_BOOST = 0.15
DEFAULT_DENSE_MIN_SIMILARITY = 0.75
DEFAULT_DENSE_WEIGHT = 1.0


class KnowledgeBase:
    """Validated sections and their indexes; immutable once built (reload = new KB)."""

    def __init__(
        self,
        sections: list[Section],
        min_score: float = 0.2,
        *,
        lexical: LexicalIndex | None = None,
        dense: DenseIndex | None = None,
        category_boost: float = DEFAULT_CATEGORY_BOOST,
        dense_min_similarity: float = DEFAULT_DENSE_MIN_SIMILARITY,
        fusion: Literal["zscore", "rrf"] = "zscore",
        dense_weight: float = DEFAULT_DENSE_WEIGHT,
        source: Path | None = None,
        warnings: Sequence[str] = (),
    ):
        self.sections = sections
        self.min_score = min_score
        self.category_boost = category_boost
        self.dense_min_similarity = dense_min_similarity
        self.fusion = fusion
        self.dense_weight = dense_weight
        self.lexical = lexical if lexical is not None else LexicalIndex.build(sections)
        self.dense = dense
        self.source = source
        self.warnings = list(warnings)
        self.content_hash = content_hash(sections)
        self._categories = np.asarray([s.category for s in sections])
        self._by_topic = {s.topic: s for s in sections}

    def __len__(self) -> int:
        return len(self.sections)

    def __repr__(self) -> str:
        return f"KnowledgeBase({len(self)} sections, {self.retrieval}, {self.content_hash[:12]})"

    @property
    def retrieval(self) -> Literal["lexical", "hybrid"]:
        return "hybrid" if self.dense is not None else "lexical"

    def with_dense(self, dense: DenseIndex | None) -> KnowledgeBase:
        """The same KB (sections, lexical index, settings) with `dense` as its
        dense index: how a dense index built later is switched in."""
        joined = copy.copy(self)
        joined.dense = dense
        return joined

    @property
    def embeds_queries(self) -> bool:
        """Whether `search` runs an embedding model on the query (tens of
        milliseconds: a caller on an event loop runs it in a thread). Lexical
        search alone is numpy over the index, under a millisecond."""
        return self.dense is not None

    @property
    def categories(self) -> list[str]:
        return sorted(set(self._categories.tolist()))

    def get(self, topic: str) -> Section | None:
        return self._by_topic.get(topic)

    def search(
        self,
        query: str,
        k: int = 5,
        categories: Sequence[str] | None = None,
        *,
        min_score: float | None = None,
    ) -> list[Hit]:
        """The `k` best sections for `query`, best first, relevant ones only.

        `categories` (the current phase's) are boosted. `min_score` overrides the
        KB's relevance floor; 0 turns it off (benchmarks). Hits are in ranking
        order; `score` is each hit's relevance in [0, 1], the value the floor
        compares, so it need not decrease down the list.
        """
        if k <= 0 or not self.sections:
            return []
        floor = self.min_score if min_score is None else min_score
        positions = self.lexical.expand(query)
        if not positions:
            return []
        lexical = self.lexical.score(positions)
        relevance = lexical.coverage
        extra: dict[str, np.ndarray] = {"lexical": lexical.ranking, "coverage": lexical.coverage}

        if self.dense is None:
            ranking = lexical.ranking - float(lexical.ranking.min()) + 1e-6
        else:
            ranking, similarity = self._fuse(query, lexical.ranking)
            extra["dense"] = similarity
            # A paraphrase the lexical side misses still counts as relevant when
            # the model is confident; below its threshold a cosine means little.
            confident = similarity >= self.dense_min_similarity
            relevance = np.where(confident, np.maximum(relevance, similarity), relevance)

        if categories and self.category_boost > 0:
            in_phase = np.isin(self._categories, list(categories))
            ranking = ranking * np.where(in_phase, 1.0 + self.category_boost, 1.0)

        # Vectorized: a per-document loop over the floor cost milliseconds when
        # most of the KB scores below it.
        relevance = np.clip(relevance, 0.0, 1.0)
        eligible = np.flatnonzero((ranking > 0) & (relevance >= floor))
        # A stable sort of ascending ids keeps ties in KB order.
        top = eligible[np.argsort(-ranking[eligible], kind="stable")[:k]]
        hits: list[Hit] = []
        for doc in top:
            section = self.sections[doc]
            hits.append(
                Hit(
                    topic=section.topic,
                    category=section.category,
                    facts=section.facts,
                    score=round(float(relevance[doc]), 4),
                    extra={name: round(float(v[doc]), 4) for name, v in extra.items()},
                )
            )
        return hits

    def _fuse(self, query: str, lexical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The lexical and dense rankings joined (a positive score per section),
        and the dense similarities."""
        assert self.dense is not None
        similarity = self.dense.similarities(query)
        if self.fusion == "rrf":
            fused = np.zeros(len(self.sections), dtype=np.float64)
            for scores in (lexical, similarity):
                top = np.argsort(-scores, kind="stable")[:FUSION_DEPTH]
                fused[top] += 1.0 / (RRF_K + 1 + np.arange(len(top)))
            return fused, similarity
        # Scores, not ranks: how far a section stands above the rest in either
        # retriever carries over, which rank fusion throws away (measured:
        # bench/KB_RESULTS.md). Each is standardized over the whole KB, so the
        # BM25 mix and the cosines are on one scale.
        fused = _standardized(lexical) + self.dense_weight * _standardized(similarity)
        # The category boost multiplies: keep every score positive.
        return fused - float(fused.min()) + 1e-6, similarity


def _standardized(scores: np.ndarray) -> np.ndarray:
    spread = float(scores.std())
    centered = scores.astype(np.float64) - float(scores.mean())
    return centered / spread if spread > 0 else centered


def _kb_root(settings: KBSettings) -> Path:
    return Path(settings.path).expanduser() if settings.path else BUNDLED_KB


def _cache_root(settings: KBSettings) -> Path | None:
    # KB_CACHE_DIR is applied to settings.cache_dir by core.settings, with the
    # other environment overrides.
    return resolve_cache_dir(settings.cache_dir)


def open_kb(
    settings: KBSettings,
    *,
    dense: bool = False,
    embeddings: Embeddings | None = None,
) -> KnowledgeBase:
    """Load, validate and index the KB that `settings` name (path None = bundled).

    Indexes come from the cache under `settings.cache_dir` when the KB content and
    index versions match, and are built and stored otherwise. With `dense`, the
    FAISS index is built with `embeddings` (default: the FRIDA model of
    `settings.dense`). Raises `KBError` for an invalid KB and `DenseUnavailable`
    when dense retrieval is requested without its model.
    """
    started = time.perf_counter()
    content = read_kb(_kb_root(settings))
    sections = content.sections
    digest = content_hash(sections)
    root = _cache_root(settings)

    lexical, lexical_hit = cached(
        root,
        "lexical",
        cache_key(digest, analyzer_fingerprint(), index_fingerprint()),
        build=lambda: LexicalIndex.build(sections),
        save=lambda index, path: index.save(path),
        load=LexicalIndex.load,
    )
    # Synonyms apply at query time: a cached index takes the KB's current file.
    lexical.use_synonyms(content.synonyms)

    dense_index: DenseIndex | None = None
    dense_hit = False
    dense_settings = resolve(settings.dense)
    if dense:
        model = embeddings if embeddings is not None else load_embeddings(dense_settings.model)
        dense_index, dense_hit = open_dense_index(settings, sections, model)

    kb = KnowledgeBase(
        sections,
        settings.min_score,
        lexical=lexical,
        dense=dense_index,
        category_boost=getattr(settings, "category_boost", DEFAULT_CATEGORY_BOOST),
        dense_min_similarity=dense_settings.min_similarity,
        fusion=settings.dense.fusion,
        dense_weight=settings.dense.weight,
        source=content.root,
        warnings=content.warnings,
    )
    log.info(
        "kb opened",
        extra={
            "kb_sections": len(kb),
            "kb_hash": digest[:12],
            "kb_lexical_cached": lexical_hit,
            "kb_dense": dense,
            "kb_dense_cached": dense_hit,
            "kb_open_ms": round((time.perf_counter() - started) * 1000),
        },
    )
    for warning in content.warnings:
        log.warning("kb: %s", warning)
    # The morphological analyzer loads lazily and a cached index does not
    # need it: load it now, not during the first customer's turn.
    morph()
    return kb


def open_dense_index(
    settings: KBSettings,
    sections: Sequence[Section],
    model: Embeddings,
    *,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[DenseIndex, bool]:
    """The dense index of `sections` with `model`, from the cache or built (and
    stored). Returns (index, from_cache). `cancelled` can stop a build between
    batches (`BuildCancelled`)."""
    dense_settings = resolve(settings.dense)
    return cached(
        _cache_root(settings),
        "dense",
        cache_key(
            content_hash(sections),
            DENSE_VERSION,
            embeddings_id(model),
            dense_settings.document_prefix,
        ),
        build=lambda: DenseIndex.build(
            sections,
            model,
            query_prefix=dense_settings.query_prefix,
            document_prefix=dense_settings.document_prefix,
            cancelled=cancelled,
        ),
        save=lambda index, path: index.save(path),
        load=lambda path: DenseIndex.load(
            path, model, query_prefix=dense_settings.query_prefix, size=len(sections)
        ),
    )

"""Optional dense retrieval: FAISS over sentence embeddings (ai-forever/FRIDA).

FRIDA is an asymmetric model: queries and documents are embedded with different
prefixes ("search_query: " / "search_document: "), which this module adds, so any
LangChain `Embeddings` works the same way. Vectors are L2-normalized and searched
by inner product, i.e. cosine similarity.

The real model needs sentence-transformers and torch (``pip install .[embeddings]``)
and a model download, so dense retrieval is off unless the `dense_retrieval`
feature flag is on. `HashingEmbeddings` is a deterministic, dependency-free stand-in
(hashed lemma counts) used by the tests and for trying the fusion offline.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from langchain_core.embeddings import Embeddings

from kb.text import analyze
from kb.types import Section

DENSE_VERSION = "1"
"""Bump when document texts or the index layout change: part of the cache key."""


class DenseUnavailable(RuntimeError):
    """Dense retrieval was requested but the embedding model cannot be loaded."""


def frida_embeddings(model: str, *, device: str = "cpu") -> Embeddings:
    """The real embedding model, via langchain-huggingface (sentence-transformers)."""
    try:
        import sentence_transformers  # noqa: F401  # only to give a clear error
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError as exc:
        raise DenseUnavailable(
            "dense retrieval needs sentence-transformers: pip install '.[embeddings]'"
            " (or switch the dense_retrieval feature flag off)"
        ) from exc
    try:
        return HuggingFaceEmbeddings(
            model_name=model,
            model_kwargs={"device": device},
            encode_kwargs={"normalize_embeddings": True},
        )
    except Exception as exc:  # download or load failure: say which model
        raise DenseUnavailable(f"cannot load embedding model {model!r}: {exc}") from exc


class HashingEmbeddings(Embeddings):
    """Deterministic bag-of-lemmas embeddings: each lemma is hashed to a signed
    coordinate. Texts that share words are similar, so fusion can be tested for
    real, without a model. Not a substitute for FRIDA in production."""

    def __init__(self, dim: int = 256):
        self.dim = dim

    @property
    def model_id(self) -> str:
        return f"hashing-{self.dim}"

    def _vector(self, text: str) -> list[float]:
        vec = np.zeros(self.dim, dtype=np.float32)
        for term in analyze(text):
            if term.stop:
                continue
            digest = hashlib.blake2b(term.lemma.encode("utf-8"), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            vec[value % self.dim] += 1.0 if (value >> 63) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return (vec / norm if norm > 0 else vec).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def embeddings_id(embeddings: Embeddings) -> str:
    """What identifies the vectors an `Embeddings` produces (for the cache key)."""
    for attr in ("model_id", "model_name", "model"):
        value = getattr(embeddings, attr, None)
        if isinstance(value, str) and value:
            return f"{type(embeddings).__name__}:{value}"
    return type(embeddings).__name__


def document_text(section: Section) -> str:
    """What a section is embedded as: its facts (no editor notes) and its keywords,
    which are phrased the way customers ask."""
    keywords = "; ".join(section.keywords)
    return f"{section.facts}\n{keywords}" if keywords else section.facts


def _normalized(vectors: Sequence[Sequence[float]]) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError("embeddings must be a list of equal-length vectors")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix / np.where(norms > 0, norms, 1.0))


class DenseIndex:
    """A FAISS inner-product index over normalized section embeddings."""

    def __init__(self, index: Any, embeddings: Embeddings, query_prefix: str):
        self.index = index
        self.embeddings = embeddings
        self.query_prefix = query_prefix
        # The same question recurs (objection strategies use fixed KB queries);
        # embedding it costs far more than a lookup.
        self._embed_query = functools.lru_cache(maxsize=1024)(self._embed_query_uncached)

    @classmethod
    def build(
        cls,
        sections: Sequence[Section],
        embeddings: Embeddings,
        *,
        query_prefix: str,
        document_prefix: str,
    ) -> DenseIndex:
        texts = [document_prefix + document_text(s) for s in sections]
        matrix = _normalized(embeddings.embed_documents(texts))
        index = faiss.IndexFlatIP(matrix.shape[1])
        index.add(matrix)
        return cls(index, embeddings, query_prefix)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / "index.faiss"))
        meta = {"size": int(self.index.ntotal), "dim": int(self.index.d)}
        (directory / "meta.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(
        cls, directory: Path, embeddings: Embeddings, *, query_prefix: str, size: int
    ) -> DenseIndex:
        index = faiss.read_index(str(directory / "index.faiss"))
        if int(index.ntotal) != size:
            raise ValueError(f"dense index has {index.ntotal} vectors, the KB {size} sections")
        return cls(index, embeddings, query_prefix)

    def _embed_query_uncached(self, query: str) -> np.ndarray:
        return _normalized([self.embeddings.embed_query(self.query_prefix + query)])

    def search(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Section numbers and cosine similarities of the `n` nearest sections."""
        n = min(n, int(self.index.ntotal))
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        sims, ids = self.index.search(self._embed_query(query), n)
        keep = ids[0] >= 0
        return ids[0][keep], sims[0][keep]

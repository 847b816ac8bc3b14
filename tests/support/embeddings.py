"""A deterministic embedding model for tests: dense retrieval and fusion run for
real, without a model download."""

from __future__ import annotations

import hashlib
import threading

import numpy as np
from langchain_core.embeddings import Embeddings

from kb.text import analyze


class HashingEmbeddings(Embeddings):
    """Deterministic bag-of-lemmas embeddings: each lemma is hashed to a signed
    coordinate. Texts that share words are similar, so fusion can be tested for
    real, without a model. Not a substitute for a real model in production."""

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


class GatedEmbeddings(HashingEmbeddings):
    """`HashingEmbeddings` whose document embedding waits until the test opens
    the gate: a dense index build as slow as the test wants, through the real
    build path. Query embedding is never held up."""

    def __init__(self, dim: int = 256, *, open_gate: bool = False):
        super().__init__(dim)
        self.gate = threading.Event()
        self.building = threading.Event()
        """Set once a build has started embedding."""
        self.batches = 0
        if open_gate:
            self.gate.set()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.building.set()
        if not self.gate.wait(timeout=60):
            raise TimeoutError("the test never opened the gate")
        self.batches += 1
        return super().embed_documents(texts)

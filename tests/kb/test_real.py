"""The bundled KB and, when ../shared is present, the company's real KB (1,818
sections): validation, no editor notes, off-topic rejection, a retrieval floor on
a sample of the dev questions."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from api.cli import main
from core.settings import DenseSettings, KBSettings
from kb import KnowledgeBase, open_kb
from tests.support import SHARED

REAL_KB = SHARED / "wipon_kb"
DEV = SHARED / "eval" / "kb_questions_dev.jsonl"

OFF_TOPIC = [
    "какая погода в Париже",
    "расскажи анекдот",
    "кто выиграл чемпионат мира по футболу",
    "как вылечить простуду",
    "где купить билеты на концерт",
]
REAL_QUESTIONS = [
    "сколько стоит касса",
    "есть рассрочка?",
    "Вайпон про цена",
    "нужен ли интернет для кассы",
    "как подключить сканер",
    "доставка в Караганду",
    "тис для ИП",
    "сколко стоит тариф стандарт",
    "принтр чеков",
]

needs_shared = pytest.mark.skipif(
    not REAL_KB.is_dir(), reason=f"{REAL_KB} not present (fresh clone without ../shared)"
)


def open_at(path: Path | None, cache: Path) -> KnowledgeBase:
    settings = KBSettings(
        path=str(path) if path else None,
        top_k=4,
        min_score=0.25,
        cache_dir=str(cache),
        dense=DenseSettings(model="m", query_prefix="q: ", document_prefix="d: "),
    )
    return open_kb(settings)


@pytest.fixture(scope="module")
def real_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    if not REAL_KB.is_dir():
        pytest.skip(f"{REAL_KB} not present (fresh clone without ../shared)")
    return open_at(REAL_KB, tmp_path_factory.mktemp("kb-cache"))


def test_bundled_kb_answers_real_questions_and_nothing_else(tmp_path: Path) -> None:
    kb = open_at(None, tmp_path)
    for query in OFF_TOPIC:
        assert kb.search(query) == [], query
    for query in REAL_QUESTIONS:
        assert kb.search(query), query


@needs_shared
def test_kb_check_passes_on_the_real_kb(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KB_PATH", raising=False)
    assert main(["kb", "check", "--kb", str(REAL_KB)]) == 0
    assert "1818 sections in 17 categories" in capsys.readouterr().out


@needs_shared
def test_real_kb_facts_carry_no_editor_notes(real_kb: KnowledgeBase) -> None:
    assert sum(len(s.notes) for s in real_kb.sections) >= 90
    for section in real_kb.sections:
        assert "НЕ ПУТАТЬ" not in section.facts and "⚠" not in section.facts, section.topic


@needs_shared
def test_real_kb_off_topic_is_empty_and_questions_hit(real_kb: KnowledgeBase) -> None:
    for query in OFF_TOPIC:
        assert real_kb.search(query) == [], query
    for query in REAL_QUESTIONS:
        assert real_kb.search(query), query
    assert "wipon_pro" in real_kb.search("Вайпон про цена")[0].topic


@needs_shared
def test_dev_sample_ranking_and_latency(real_kb: KnowledgeBase) -> None:
    if not DEV.is_file():
        pytest.skip(f"{DEV} not present")
    lines = DEV.read_text(encoding="utf-8").splitlines()[::8]
    rows = [json.loads(line) for line in lines if line.strip()]
    hit5 = 0
    latencies = []
    for row in rows:
        started = time.perf_counter()
        hits = real_kb.search(row["query"], 5, min_score=0.0)
        latencies.append(time.perf_counter() - started)
        hit5 += row["topic"] in [h.topic for h in hits]
    latencies.sort()
    assert hit5 / len(rows) >= 0.62
    assert latencies[int(0.95 * len(latencies))] < 0.02

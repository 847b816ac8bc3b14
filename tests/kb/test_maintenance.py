"""`salesbot kb eval` with acceptable topics, `kb equivalents` and `kb lint`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from api.cli import main
from tests.kb.synthetic import FILLER_FACTS
from tests.kb.test_cli import _isolated  # noqa: F401  (FF_ flags off, a private KB cache)
from tests.support import FIXTURES

GOOD = FIXTURES / "kb_good"


def _write_kb(root: Path, files: dict[str, list[tuple[str, str]]]) -> Path:
    root.mkdir()
    for name, sections in files.items():
        items = [
            {"topic": topic, "priority": 5, "keywords": [topic.replace("_", " ")], "facts": facts}
            for topic, facts in sections
        ]
        (root / f"{name}.yaml").write_text(
            yaml.safe_dump({"sections": items}, allow_unicode=True), encoding="utf-8"
        )
    return root


def _kb_with_findings(tmp_path: Path) -> Path:
    return _write_kb(
        tmp_path / "kb",
        {
            "misc": [(f"misc_{i}", text) for i, text in enumerate(FILLER_FACTS)],
            "support": [
                (
                    "support_weekend",
                    "Техподдержка Wipon работает в выходные: суббота и воскресенье.\n"
                    "• Режим: ежедневно\n• Каналы: чат и телефон\n",
                ),
                (
                    "support_weekend_days",
                    "Поддержка Wipon доступна в выходные дни, суббота и воскресенье без"
                    " перерыва.\n• Режим: ежедневно\n• Каналы: чат, телефон\n",
                ),
            ],
            "equipment": [
                ("equipment_warranty", "Гарантия на кассу Wipon.\n• Гарантия: 12 месяцев\n"),
            ],
            "faq": [("faq_warranty", "Гарантия на кассу Wipon.\n• Гарантия: 2 года\n")],
        },
    )


def _queries(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return path


def test_eval_counts_any_acceptable_topic_as_answered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = _queries(
        tmp_path / "q.jsonl",
        [
            {"query": "сколько стоит тариф стандарт", "topic": "pricing_standard"},
            # Labelled with a section that does not answer, but also accepting one that does.
            {
                "query": "есть рассрочка?",
                "topic": "support_hours",
                "topics": ["pricing_installment"],
            },
            # "topics" alone: the first one is the label.
            {"query": "есть рассрочка?", "topics": ["support_hours", "pricing_installment"]},
        ],
    )
    assert main(["kb", "eval", "--kb", str(GOOD), "--queries", str(queries)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    assert set(figures) == {
        "n", "hit@1", "hit@5", "mrr@10", "answered@1", "answered@5", "multi_topic",
        "p50_ms", "p95_ms",
    }  # fmt: skip
    assert figures["multi_topic"] == 2
    assert figures["hit@1"] == pytest.approx(1 / 3, abs=1e-3)
    assert figures["answered@1"] == 1.0 and figures["answered@5"] == 1.0
    assert "more than one acceptable topic: 2 of 3" in out[-2]


@pytest.mark.parametrize(
    "row",
    [
        {"query": "q", "topics": []},
        {"query": "q", "topics": "pricing_standard"},
        {"query": "q", "topics": [1, 2]},
    ],
)
def test_eval_rejects_malformed_topics(tmp_path: Path, row: dict[str, object]) -> None:
    queries = _queries(tmp_path / "q.jsonl", [row])
    with pytest.raises(SystemExit, match=r"q\.jsonl:1"):
        main(["kb", "eval", "--kb", str(GOOD), "--queries", str(queries)])


def test_equivalents_writes_each_question_with_its_acceptable_topics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = _kb_with_findings(tmp_path)
    queries = _queries(
        tmp_path / "q.jsonl",
        [
            {"query": "работаете в субботу?", "topic": "support_weekend", "category": "support"},
            {"query": "как сделать возврат", "topic": "misc_6", "category": "misc"},
        ],
    )
    out = tmp_path / "out" / "topics.jsonl"
    args = ["kb", "equivalents", "--kb", str(kb), "--queries", str(queries), "--out", str(out)]
    assert main(args) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows == [
        {
            "query": "работаете в субботу?",
            "topic": "support_weekend",
            "category": "support",
            "topics": ["support_weekend", "support_weekend_days"],
        },
        {
            "query": "как сделать возврат",
            "topic": "misc_6",
            "category": "misc",
            "topics": ["misc_6"],
        },
    ]
    assert "1 of 2 questions have more than one acceptable topic" in capsys.readouterr().out
    # The file feeds `kb eval` as it is.
    assert main(["kb", "eval", "--kb", str(kb), "--queries", str(out)]) == 0


def test_lint_prints_findings_per_file_and_topic_with_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = _kb_with_findings(tmp_path)
    assert main(["kb", "lint", "--kb", str(kb)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "equipment.yaml" in lines and "support.yaml" in lines
    assert (
        "  equipment_warranty: figure (гарантия) differs from faq.yaml: faq_warranty:"
        " «12 месяцев» here, «2 года» there"
    ) in lines
    assert "  support_weekend: near-duplicate of support.yaml: support_weekend_days" in out
    assert out.count("suggestion:") == 2
    assert "1 near-duplicate pair(s), 1 contradiction(s) (figure 1, polarity 0, contents 0)" in out


def test_lint_fails_only_when_strict_and_over_the_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = _kb_with_findings(tmp_path)
    assert main(["kb", "lint", "--kb", str(kb), "--strict"]) == 1
    assert "more than 0 finding(s)" in capsys.readouterr().err
    assert main(["kb", "lint", "--kb", str(kb), "--strict", "--max-findings", "2"]) == 0
    assert main(["kb", "lint", "--kb", str(kb), "--strict", "--max-findings", "1"]) == 1


def test_lint_of_an_invalid_kb_fails(tmp_path: Path) -> None:
    assert main(["kb", "lint", "--kb", str(tmp_path / "missing")]) == 1


def test_the_bundled_kb_has_no_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "lint", "--strict"]) == 0
    assert "0 finding(s)" in capsys.readouterr().out

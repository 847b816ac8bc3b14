"""Tune the hybrid's fusion weight on one half of the dev questions, report on the other.

    KB_CACHE_DIR=... .venv/bin/python -m bench.kb_fusion [--kb ../shared/wipon_kb]
        [--queries bench/data/kb_questions_dev_topics.jsonl] [--weights 0.5,1,1.5,...]

Opens the KB with the dense model of `kb.dense` (its index from the cache, or
built once: minutes on the company KB), scores every question once with each
retriever, then fuses those scores for each candidate weight exactly as
`KnowledgeBase.search` does (z-scores, dense times the weight; or reciprocal
ranks). The weight is chosen on the "tune" half (bench.kb_eval's seeded split) by
mrr@10; the "held" half, never looked at for the choice, gives the figures to
report. answered@k counts a question as answered when a top-k section is one of
its acceptable `topics` (when the file lists them). Last, the latency of
`search()` at the chosen weight, per question (the first `--timed` of the held
half), after warm-up; `--latency-only` times it alone, at `kb.dense.weight`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from bench.kb_eval import split
from core.settings import load_settings
from core.stats import percentile
from kb.base import FUSION_DEPTH, RRF_K, KnowledgeBase, _standardized, open_kb

Row = tuple[str, str, tuple[str, ...]]
DEFAULT_WEIGHTS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)


def read(path: Path) -> list[Row]:
    rows: list[Row] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append((row["query"], row["topic"], tuple(row.get("topics", [row["topic"]]))))
    return rows


def signals(kb: KnowledgeBase, rows: list[Row]) -> tuple[np.ndarray, np.ndarray]:
    """Each question's lexical ranking and dense similarity over the whole KB. A
    question without a searchable word gets NaN: `search` returns nothing for it."""
    assert kb.dense is not None
    lexical = np.full((len(rows), len(kb)), np.nan, dtype=np.float64)
    dense = np.zeros((len(rows), len(kb)), dtype=np.float64)
    for number, (query, _, _) in enumerate(rows):
        positions = kb.lexical.expand(query)
        if positions:
            lexical[number] = kb.lexical.score(positions).ranking
        dense[number] = kb.dense.similarities(query)
    return lexical, dense


def fused(lexical: np.ndarray, dense: np.ndarray, weight: float | None) -> np.ndarray:
    """The ranking `search` computes: z-score fusion at `weight`, or RRF (None),
    or the lexical ranking alone (weight 0)."""
    if weight is None:
        out = np.zeros_like(lexical)
        for scores in (lexical, dense):
            top = np.argsort(-scores, kind="stable")[:FUSION_DEPTH]
            out[top] += 1.0 / (RRF_K + 1 + np.arange(len(top)))
        return out
    if weight == 0:
        return lexical
    return _standardized(lexical) + weight * _standardized(dense)


def figures(
    kb: KnowledgeBase,
    rows: list[Row],
    lexical: np.ndarray,
    dense: np.ndarray,
    weight: float | None,
) -> dict[str, float]:
    topics = np.asarray([s.topic for s in kb.sections])
    hit1 = hit5 = answered1 = answered5 = 0
    mrr = 0.0
    for number, (_, topic, acceptable) in enumerate(rows):
        if np.isnan(lexical[number, 0]):
            continue
        ranking = fused(lexical[number], dense[number], weight)
        top = list(topics[np.argsort(-ranking, kind="stable")[:10]])
        hit1 += topic in top[:1]
        hit5 += topic in top[:5]
        answered1 += any(t in acceptable for t in top[:1])
        answered5 += any(t in acceptable for t in top[:5])
        if topic in top:
            mrr += 1.0 / (top.index(topic) + 1)
    n = len(rows)
    return {
        "hit@1": round(hit1 / n, 4),
        "hit@5": round(hit5 / n, 4),
        "mrr@10": round(mrr / n, 4),
        "answered@1": round(answered1 / n, 4),
        "answered@5": round(answered5 / n, 4),
    }


def latency(kb: KnowledgeBase, rows: list[Row]) -> tuple[float, float]:
    kb.search("прогрев", k=10, min_score=0.0)
    times = []
    for query, _, _ in rows:
        started = time.perf_counter()
        kb.search(query, k=10, min_score=0.0)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), percentile(times, 95)


def main() -> int:
    from tests.support import SHARED

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default=str(SHARED / "wipon_kb"))
    parser.add_argument(
        "--queries", default=str(Path(__file__).parent / "data" / "kb_questions_dev_topics.jsonl")
    )
    parser.add_argument("--weights", default=",".join(str(w) for w in DEFAULT_WEIGHTS))
    parser.add_argument(
        "--latency-only",
        action="store_true",
        help="skip the tuning: time search() at the weight of kb.dense.weight",
    )
    parser.add_argument("--timed", type=int, default=500, help="questions timed (held half)")
    args = parser.parse_args()

    rows = read(Path(args.queries))
    keyed = {(q, t): a for q, t, a in rows}
    tune_pairs, held_pairs = split([(q, t) for q, t, _ in rows])
    index = {(q, t): i for i, (q, t, _) in enumerate(rows)}
    halves = {
        "tune": [index[p] for p in tune_pairs],
        "held": [index[p] for p in held_pairs],
    }
    settings = load_settings().kb.model_copy(update={"path": args.kb})
    started = time.perf_counter()
    kb = open_kb(settings, dense=True)
    print(f"{kb!r} ({settings.dense.model}): opened in {time.perf_counter() - started:.1f} s")
    timed = [rows[i] for i in halves["held"][: args.timed]]
    if args.latency_only:
        p50, p95 = latency(kb, timed)
        print(f"hybrid search at weight {kb.dense_weight}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        return 0
    started = time.perf_counter()
    lexical, dense = signals(kb, rows)
    print(f"signals of {len(rows)} questions in {time.perf_counter() - started:.1f} s")
    assert len(keyed) == len(rows)

    candidates: list[float | None] = [0.0, None, *(float(w) for w in args.weights.split(","))]
    results: dict[float | None, dict[str, dict[str, float]]] = {}
    for weight in candidates:
        results[weight] = {
            name: figures(kb, [rows[i] for i in part], lexical[part], dense[part], weight)
            for name, part in halves.items()
        }
        label = "lexical" if weight == 0 else "rrf" if weight is None else f"w={weight}"
        print(f"{label:>8} tune {json.dumps(results[weight]['tune'])}")
        print(f"{'':>8} held {json.dumps(results[weight]['held'])}")
    zscore = [w for w in candidates if w]
    best = max(zscore, key=lambda w: results[w]["tune"]["mrr@10"])
    print(f"chosen on the tune half (mrr@10): weight {best}")
    kb.dense_weight = best
    p50, p95 = latency(kb, timed)
    print(f"hybrid search at weight {best}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

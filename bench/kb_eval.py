"""Retrieval benchmark with a tuning/held-out split of the dev questions.

    .venv/bin/python -m bench.kb_eval [--kb ../shared/wipon_kb]
        [--queries ../shared/eval/kb_questions_dev.jsonl] [--search] [--ceiling] [--dense]

Prints hit@1 / hit@5 / mrr@10 (and answered@1 / answered@5 when the file lists
each question's acceptable `topics`, as bench/data/kb_questions_dev_topics.jsonl
does) on the whole file and on two random halves (fixed seed): the ranking weights
in kb/lexical.py were tuned on the "tune" half only, so the "held" half estimates
how they do on questions never looked at. `--search` reruns that tuning
(coordinate ascent over the weights, on the tune half) and prints the weights it
finds; it does not edit the code. `--ceiling` is a
diagnostic, not a method: it ranks with the labelled section's category known in
advance (every section of that category first), to show how much of the gap a
perfect category signal could close; it also counts the top-1 misses where the
first hit matches every query word the labelled section matches. Timings: index
build from scratch, cached load, and per-query latency.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from core.settings import load_settings
from kb import lexical
from kb.base import KnowledgeBase, open_kb
from kb.commands import Question, evaluate
from tests.support import SHARED

SEED = 42


def split(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    shuffled = rows[:]
    random.Random(SEED).shuffle(shuffled)
    half = len(shuffled) // 2
    return shuffled[:half], shuffled[half:]


ACCEPTABLE: dict[tuple[str, str], tuple[str, ...]] = {}
"""Each question's acceptable topics when the queries file lists them."""


def figures(kb: KnowledgeBase, rows: list[tuple[str, str]]) -> dict[str, float]:
    questions = [Question(q, t, ACCEPTABLE.get((q, t), (t,))) for q, t in rows]
    result = evaluate(kb, questions, 10)
    result.pop("floor")
    return result


def category_ceiling(kb: KnowledgeBase, rows: list[tuple[str, str]]) -> dict[str, float]:
    """Figures when the gold section's category is known: an upper bound for any
    category signal (classifier, prior, phase boost), not something a query has."""
    # A boost this large puts every section of the category above all others.
    oracle = KnowledgeBase(kb.sections, kb.min_score, lexical=kb.lexical, category_boost=1e6)
    hit1 = hit5 = 0
    mrr = 0.0
    for query, topic in rows:
        section = kb.get(topic)
        if section is None:
            continue
        topics = [h.topic for h in oracle.search(query, 10, [section.category], min_score=0.0)]
        hit1 += topic in topics[:1]
        hit5 += topic in topics[:5]
        mrr += 1.0 / (topics.index(topic) + 1) if topic in topics else 0.0
    n = len(rows)
    return {"hit@1": round(hit1 / n, 4), "hit@5": round(hit5 / n, 4), "mrr@10": round(mrr / n, 4)}


def lexical_ties(kb: KnowledgeBase, rows: list[tuple[str, str]]) -> dict[str, float]:
    """Of the questions whose labelled section is not ranked first: how often does
    the first hit contain every query word (or synonym) the labelled one contains?
    There, no weighting of matched words can prefer the label for a good reason."""
    index = kb.lexical
    terms = [
        set(h) | set(b) for h, b in zip(index.tokens["head"], index.tokens["body"], strict=True)
    ]
    position = {s.topic: i for i, s in enumerate(kb.sections)}
    misses = covered = same = 0
    for query, topic in rows:
        gold = position.get(topic)
        hits = kb.search(query, 1, min_score=0.0)
        if gold is None or not hits or hits[0].topic == topic:
            continue
        first = position[hits[0].topic]
        positions = index.expand(query)
        in_gold = {i for i, p in enumerate(positions) if terms[gold] & set(p.alternatives)}
        in_first = {i for i, p in enumerate(positions) if terms[first] & set(p.alternatives)}
        misses += 1
        covered += in_gold <= in_first
        same += in_gold == in_first
    return {
        "misses@1": misses,
        "first_covers_all_gold_words": round(covered / max(misses, 1), 4),
        "same_words_matched": round(same / max(misses, 1), 4),
    }


def search_weights(kb: KnowledgeBase, tune: list[tuple[str, str]]) -> None:
    """Coordinate ascent on mrr@10 + hit@5/2 over the module-level weights."""

    def objective() -> float:
        r = figures(kb, tune)
        return r["mrr@10"] + r["hit@5"] / 2

    def get() -> list[float]:
        return [
            *(v.weight for v in lexical.VIEWS),
            lexical.COVERAGE_WEIGHT,
            lexical.CATEGORY_WEIGHT,
        ]

    def put(values: list[float]) -> None:
        n = len(lexical.VIEWS)
        lexical.VIEWS = tuple(
            lexical.ViewSpec(v.name, max(0.0, w), v.k1, v.b)
            for v, w in zip(lexical.VIEWS, values[:n], strict=True)
        )
        lexical.COVERAGE_WEIGHT = values[n]
        lexical.CATEGORY_WEIGHT = values[n + 1]

    best = objective()
    weights = get()
    for step in (1.0, 0.5, 0.25):
        improved = True
        while improved:
            improved = False
            for i in range(len(weights)):
                for delta in (step, -step):
                    trial = weights[:]
                    trial[i] = max(0.0, trial[i] + delta)
                    put(trial)
                    value = objective()
                    if value > best + 1e-6:
                        best, weights, improved = value, trial, True
            put(weights)
    names = [*(v.name for v in lexical.VIEWS), "coverage", "category"]
    print("best weights:", dict(zip(names, weights, strict=True)), f"objective {best:.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default=str(SHARED / "wipon_kb"))
    parser.add_argument("--queries", default=str(SHARED / "eval" / "kb_questions_dev.jsonl"))
    parser.add_argument("--search", action="store_true", help="rerun the weight tuning")
    parser.add_argument(
        "--ceiling", action="store_true", help="also rank with the gold category known"
    )
    parser.add_argument(
        "--dense",
        action="store_true",
        help="hybrid: fuse the model of kb.dense (KB_DENSE_MODEL) with the lexical ranking;"
        " its index is kept under kb.cache_dir (KB_CACHE_DIR), built only once",
    )
    args = parser.parse_args()

    rows = []
    for line in Path(args.queries).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append((row["query"], row["topic"]))
            if "topics" in row:
                others = (t for t in row["topics"] if t != row["topic"])
                ACCEPTABLE[(row["query"], row["topic"])] = (row["topic"], *others)
    tune, held = split(rows)

    settings = load_settings().kb
    with tempfile.TemporaryDirectory() as cache:
        kb_settings = settings.model_copy(update={"path": args.kb, "cache_dir": cache})
        started = time.perf_counter()
        open_kb(kb_settings)
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        kb = open_kb(kb_settings)
        load_s = time.perf_counter() - started
    print(f"KB {args.kb}: {len(kb)} sections; build {build_s:.2f} s, cached load {load_s:.2f} s")
    if args.dense:
        started = time.perf_counter()
        kb = open_kb(settings.model_copy(update={"path": args.kb}), dense=True)
        print(f"dense {settings.dense.model}: opened in {time.perf_counter() - started:.2f} s")
    for name, part in (("all", rows), ("tune", tune), ("held", held)):
        print(f"{name:>5} {json.dumps(figures(kb, part))}")
    if args.ceiling:
        for name, part in (("all", rows), ("tune", tune), ("held", held)):
            print(f"{name:>5} category known: {json.dumps(category_ceiling(kb, part))}")
        print(f"  all top-1 misses: {json.dumps(lexical_ties(kb, rows))}")
    if args.search:
        search_weights(kb, tune)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Retrieval benchmark with a tuning/held-out split of the dev questions.

    .venv/bin/python bench/kb_eval.py [--kb ../shared/wipon_kb]
        [--queries ../shared/eval/kb_questions_dev.jsonl] [--search]

Prints hit@1 / hit@5 / mrr@10 on the whole file and on two random halves (fixed
seed): the ranking weights in kb/lexical.py were tuned on the "tune" half only, so
the "held" half estimates how they do on questions never looked at. `--search`
reruns that tuning (coordinate ascent over the weights, on the tune half) and
prints the weights it finds; it does not edit the code. Timings: index build from
scratch, cached load, and per-query latency.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graph.settings import load_settings  # noqa: E402
from kb import lexical  # noqa: E402
from kb.base import KnowledgeBase, open_kb  # noqa: E402
from kb.commands import evaluate  # noqa: E402

SHARED = ROOT.parent / "shared"
SEED = 42


def split(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    shuffled = rows[:]
    random.Random(SEED).shuffle(shuffled)
    half = len(shuffled) // 2
    return shuffled[:half], shuffled[half:]


def figures(kb: KnowledgeBase, rows: list[tuple[str, str]]) -> dict[str, float]:
    result = evaluate(kb, rows, 10)
    result.pop("floor")
    return result


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
    args = parser.parse_args()

    rows = []
    for line in Path(args.queries).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append((row["query"], row["topic"]))
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
    for name, part in (("all", rows), ("tune", tune), ("held", held)):
        print(f"{name:>5} {json.dumps(figures(kb, part))}")
    if args.search:
        search_weights(kb, tune)
    return 0


if __name__ == "__main__":
    sys.exit(main())

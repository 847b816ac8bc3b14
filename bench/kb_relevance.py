"""Relevance calibration: where the KB's relevance floor (`kb.min_score`) must lie
so that "no relevant facts" is detected.

    .venv/bin/python -m bench.kb_relevance [--kb ../shared/wipon_kb]
        [--queries ../shared/eval/kb_questions_dev.jsonl]
        [--unanswerable bench/data/out_of_kb_questions.txt] [--verbose]

Three score distributions, each a hit's `score` (the relevance the floor compares:
the IDF-weighted share of the question a section covers), searched with the floor
off and the bot's top_k:

- answering: the labelled section of each dev question, when retrieval ranks it in
  the top_k (a section that is not even retrieved cannot be saved by any floor);
- unrelated: every other section in those top_k lists (noise beside an answer);
- out of KB: every hit for questions the KB cannot answer (written by hand,
  checked against the KB: no website, social media, reference customers,
  office hours, staff).

For each candidate floor it prints the share of answering sections kept, the
share of out-of-KB questions left with no facts at all (the case the answer must
say "I'll check"), and the unrelated hits kept; the chosen cut is the floor
with the highest balanced accuracy of those two shares.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.settings import load_settings
from kb.base import KnowledgeBase, open_kb
from tests.support import ROOT, SHARED

FLOORS = [round(0.05 * i, 2) for i in range(2, 17)]
DEFAULT_UNANSWERABLE = ROOT / "bench" / "data" / "out_of_kb_questions.txt"


@dataclass
class Distributions:
    answering: list[float]
    unrelated: list[float]
    answering_top: list[float]
    """The best score each answerable question gets."""
    out_of_kb_top: list[float]
    """The best score each out-of-KB question gets."""
    not_retrieved: int


def read_unanswerable(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def measure(
    kb: KnowledgeBase, answering: Sequence[tuple[str, str]], unanswerable: Sequence[str], k: int
) -> Distributions:
    dist = Distributions([], [], [], [], 0)
    for query, topic in answering:
        hits = kb.search(query, k, min_score=0.0)
        gold = [h.score for h in hits if h.topic == topic]
        if gold:
            dist.answering.append(gold[0])
        else:
            dist.not_retrieved += 1
        dist.unrelated.extend(h.score for h in hits if h.topic != topic)
        dist.answering_top.append(max((h.score for h in hits), default=0.0))
    for query in unanswerable:
        hits = kb.search(query, k, min_score=0.0)
        dist.out_of_kb_top.append(max((h.score for h in hits), default=0.0))
    return dist


def _quantiles(values: Sequence[float]) -> str:
    if not values:
        return "(none)"
    q = np.quantile(np.asarray(values), [0.05, 0.25, 0.5, 0.75, 0.95])
    return "p5 {:.2f}  p25 {:.2f}  p50 {:.2f}  p75 {:.2f}  p95 {:.2f}".format(*q)


def _share(values: Sequence[float], floor: float, above: bool) -> float:
    if not values:
        return 0.0
    arr = np.asarray(values)
    return float(np.mean(arr >= floor) if above else np.mean(arr < floor))


def choose(dist: Distributions) -> float:
    """The floor with the best balanced accuracy (answers kept, unanswerables
    left without facts); ties go to the lower floor, which keeps more answers."""
    best, best_score = FLOORS[0], -1.0
    for floor in FLOORS:
        kept = _share(dist.answering_top, floor, above=True)
        rejected = _share(dist.out_of_kb_top, floor, above=False)
        score = (kept + rejected) / 2
        if score > best_score + 1e-9:
            best, best_score = floor, score
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", default=str(SHARED / "wipon_kb"))
    parser.add_argument("--queries", default=str(SHARED / "eval" / "kb_questions_dev.jsonl"))
    parser.add_argument("--unanswerable", default=str(DEFAULT_UNANSWERABLE))
    parser.add_argument("--verbose", action="store_true", help="each out-of-KB question's top hit")
    args = parser.parse_args(argv)

    settings = load_settings()
    kb = open_kb(settings.kb.model_copy(update={"path": args.kb}))
    rows = [json.loads(line) for line in Path(args.queries).read_text().splitlines() if line]
    answering = [(r["query"], r["topic"]) for r in rows]
    unanswerable = read_unanswerable(Path(args.unanswerable))
    k = settings.kb.top_k
    dist = measure(kb, answering, unanswerable, k)

    print(f"KB {args.kb}: {len(kb)} sections; top_k {k}; current floor {settings.kb.min_score}")
    print(
        f"answering questions {len(answering)} (labelled section not in top_k: "
        f"{dist.not_retrieved}); out-of-KB questions {len(unanswerable)}"
    )
    print(f"answering sections  {_quantiles(dist.answering)}")
    print(f"unrelated sections  {_quantiles(dist.unrelated)}")
    print(f"answerable best hit {_quantiles(dist.answering_top)}")
    print(f"out-of-KB best hit  {_quantiles(dist.out_of_kb_top)}")
    if args.verbose:
        for query in unanswerable:
            top = kb.search(query, 1, min_score=0.0)
            hit = f"{top[0].topic} {top[0].score:.2f}" if top else "-"
            print(f"  {query!r}: {hit}")
    header = ("cut", "answerable", "out-of-KB", "answering", "unrelated")
    print("{:>5} {:>11} {:>10} {:>10} {:>10}".format(*header))
    print("{:>5} {:>11} {:>10} {:>10} {:>10}".format("", "with facts", "no facts", "kept", "kept"))
    for floor in FLOORS:
        print(
            f"{floor:>5.2f} {_share(dist.answering_top, floor, True):>11.1%} "
            f"{_share(dist.out_of_kb_top, floor, False):>10.1%} "
            f"{_share(dist.answering, floor, True):>10.1%} "
            f"{_share(dist.unrelated, floor, True):>10.1%}"
        )
    print(f"chosen relevance cut (best balanced accuracy): {choose(dist):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

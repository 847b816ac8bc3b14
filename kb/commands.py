"""`salesbot kb check`, `kb index` and `kb eval`; `kb equivalents` and `kb lint` are in
kb/maintenance.py.

`check` validates a KB directory the way the service will load it and lists every
problem (exit 1), so an editor can run it before deploying a KB change. `index`
builds the indexes the service will load into the cache (the dense one takes
minutes on a large KB), so that a start or a reload finds them ready. `eval`
measures retrieval on a JSONL of ``{"query", "topic"}`` lines; a line may also list
``"topics"``, every section that answers it (the label first, or "topic" naming it).
hit@1, hit@5 and mrr@10 count the label; answered@1 and answered@5 count any
acceptable section, and multi_topic says how many questions have more than one. Its
last line is one JSON object with the figures, for scripts and CI.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.settings import load_settings
from core.stats import percentile
from kb import maintenance
from kb.base import open_kb
from kb.dense import DenseUnavailable
from kb.loader import BUNDLED_KB, KBError, read_kb


def _kb_settings(kb_dir: str | None) -> Any:
    settings = load_settings()
    kb_settings = settings.kb
    if kb_dir:
        kb_settings = kb_settings.model_copy(update={"path": kb_dir})
    return settings, kb_settings


def _report(root: Path, exc: KBError) -> None:
    """A KB that cannot be read in one line ("not a directory"); an invalid one
    with every error, one per line, under a count."""
    if len(exc.errors) == 1:
        print(f"error: {exc.errors[0]}", file=sys.stderr)
        return
    print(f"{root}: {len(exc.errors)} errors", file=sys.stderr)
    for error in exc.errors:
        print(f"  error: {error}", file=sys.stderr)


def check_main(args: argparse.Namespace) -> int:
    _, kb_settings = _kb_settings(args.kb)
    root = Path(kb_settings.path) if kb_settings.path else BUNDLED_KB
    try:
        content = read_kb(root)
    except KBError as exc:
        _report(root, exc)
        return 1
    per_category = Counter(s.category for s in content.sections)
    notes = sum(len(s.notes) for s in content.sections)
    print(f"{root}: {len(content.sections)} sections in {len(per_category)} categories")
    width = max(len(c) for c in per_category)
    for category, count in sorted(per_category.items()):
        print(f"  {category:<{width}}  {count:>5}")
    print(f"editor notes stripped from the facts: {notes}")
    for warning in content.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    print(f"OK ({len(content.warnings)} warning(s)), content hash {content.content_hash[:12]}")
    return 0


@dataclass(frozen=True, slots=True)
class Question:
    """A benchmark question: its label, and every section that answers it (label first)."""

    query: str
    topic: str
    topics: tuple[str, ...]


def _question(row: Any) -> Question:
    query = row["query"]
    topics = row.get("topics")
    if topics is None:
        topic = str(row["topic"])
        return Question(str(query), topic, (topic,))
    if not isinstance(topics, list) or not topics or not all(isinstance(t, str) for t in topics):
        raise TypeError("topics must be a non-empty list of section topics")
    topic = str(row.get("topic", topics[0]))
    return Question(str(query), topic, (topic, *(t for t in topics if t != topic)))


def _read_queries(path: Path) -> list[Question]:
    queries: list[Question] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                queries.append(_question(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise SystemExit(
                    f"{path}:{number}: expected {{query, topic}} or {{query, topics}}: {exc}"
                ) from None
    if not queries:
        raise SystemExit(f"{path}: no queries")
    return queries


def evaluate(kb: Any, queries: Sequence[Question | tuple[str, str]], k: int) -> dict[str, Any]:
    """Ranking figures with the relevance floor off, plus what the floor would keep.

    hit@k and mrr@10 count the labelled section only; answered@k counts any of the
    question's acceptable sections (`topics`; the label alone when it has none).
    """
    hit1 = hit5 = answered1 = answered5 = multi = 0
    mrr = 0.0
    floored_hit5 = emptied = 0
    latencies: list[float] = []
    for item in queries:
        question = item if isinstance(item, Question) else Question(item[0], item[1], (item[1],))
        topic, acceptable = question.topic, set(question.topics)
        multi += len(acceptable) > 1
        started = time.perf_counter()
        hits = kb.search(question.query, k=k, min_score=0.0)
        latencies.append((time.perf_counter() - started) * 1000)
        topics = [h.topic for h in hits]
        hit1 += topic in topics[:1]
        hit5 += topic in topics[:5]
        answered1 += not acceptable.isdisjoint(topics[:1])
        answered5 += not acceptable.isdisjoint(topics[:5])
        if topic in topics[:10]:
            mrr += 1.0 / (topics.index(topic) + 1)
        kept = [h.topic for h in hits if h.score >= kb.min_score]
        emptied += not kept
        floored_hit5 += topic in kept[:5]
    n = len(queries)
    return {
        "n": n,
        "hit@1": round(hit1 / n, 4),
        "hit@5": round(hit5 / n, 4),
        "mrr@10": round(mrr / n, 4),
        "answered@1": round(answered1 / n, 4),
        "answered@5": round(answered5 / n, 4),
        "multi_topic": multi,
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "floor": {
            "min_score": kb.min_score,
            "hit@5": round(floored_hit5 / n, 4),
            "empty": round(emptied / n, 4),
        },
    }


def _open(kb_dir: str | None) -> Any:
    """The KB the service would open (dense per the feature flag), or an exit code:
    1 for an invalid KB, 2 for a dense model that cannot be loaded."""
    settings, kb_settings = _kb_settings(kb_dir)
    try:
        return open_kb(kb_settings, dense=settings.flags.dense_retrieval)
    except KBError as exc:
        _report(Path(kb_settings.path) if kb_settings.path else BUNDLED_KB, exc)
        return 1
    except DenseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def index_main(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    kb = _open(args.kb)
    if isinstance(kb, int):
        return kb
    mode = (
        f"hybrid ({kb.dense.size} sections, {kb.dense.index.ntotal} vectors)"
        if kb.dense
        else "lexical"
    )
    elapsed = time.perf_counter() - started
    print(f"kb: {kb.source} ({len(kb)} sections), {mode}: indexed in {elapsed:.2f} s")
    return 0


def eval_main(args: argparse.Namespace) -> int:
    queries = _read_queries(Path(args.queries))
    started = time.perf_counter()
    kb = _open(args.kb)
    if isinstance(kb, int):
        return kb
    open_s = time.perf_counter() - started
    unknown = sum(1 for q in queries if any(kb.get(t) is None for t in q.topics))
    if unknown:
        print(f"warning: {unknown} queries expect a topic not in the KB", file=sys.stderr)
    result = evaluate(kb, queries, max(1, args.k))
    floor = result.pop("floor")
    mode = "hybrid (dense on)" if kb.dense is not None else "lexical"
    print(f"kb: {kb.source} ({len(kb)} sections, {mode}), opened in {open_s:.2f} s")
    print(
        f"with the relevance floor {floor['min_score']}: hit@5 {floor['hit@5']},"
        f" queries left without facts {floor['empty']}"
    )
    multi = result["multi_topic"]
    print(
        f"questions with more than one acceptable topic: {multi} of {result['n']}"
        " (answered@k counts any of them, hit@k the label only)"
    )
    print(json.dumps(result))
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kb = sub.add_parser("kb", help="knowledge base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    check = kb_sub.add_parser("check", help="validate a KB directory")
    check.add_argument("--kb", help="KB directory (default: settings kb.path / KB_PATH / bundled)")
    check.set_defaults(func=check_main)
    index = kb_sub.add_parser(
        "index",
        help="build the indexes the service will load (dense too when its flag is on)"
        " into the cache, so that a start or a reload after a KB change finds them",
    )
    index.add_argument("--kb", help="KB directory (default: settings kb.path / KB_PATH / bundled)")
    index.set_defaults(func=index_main)
    ev = kb_sub.add_parser(
        "eval", help="retrieval benchmark over a JSONL of {query, topic} or {query, topics}"
    )
    ev.add_argument("--kb", help="KB directory (default: settings kb.path / KB_PATH / bundled)")
    ev.add_argument(
        "--queries",
        required=True,
        help="JSONL file: query and topic (the label), optionally topics (every acceptable"
        " section, as `salesbot kb equivalents` writes them)",
    )
    ev.add_argument("--k", type=int, default=10, help="results retrieved per query")
    ev.set_defaults(func=eval_main)
    maintenance.add_parsers(kb_sub)

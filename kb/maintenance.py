"""`salesbot kb equivalents` and `salesbot kb lint`: the KB's near-duplicates put to use.

`equivalents --kb DIR --queries IN --out OUT` writes the benchmark questions back
with ``"topics"``: the label first, then every section that answers what the label
answers (kb/neardup.py: similar facts, and the label's numbers and names all
present). It reads the KB only, never a ranking, so the sets do not favour any
ranker; `salesbot kb eval` then reports answered@1/@5 against them.

`lint [--kb DIR] [--strict] [--max-findings N]` is for the people who write the KB:
sections that say the same thing (merge them), and sections about the same thing that
disagree: a figure (price, warranty, count), a yes against a no, a kit's contents
(kb/contradictions.py). Findings are printed per file and topic with a suggestion.
The exit code is 0 unless `--strict` is given and there are more than N findings
(default 0), so a CI job can hold a KB to a budget.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from core.settings import load_settings
from kb.contradictions import SIMILARITY as CONTRADICTION_SIMILARITY
from kb.contradictions import Finding, contradictions
from kb.loader import BUNDLED_KB, KBError, read_kb
from kb.neardup import SIMILARITY, NearDuplicates, acceptable_topics

_ADVICE = {
    "duplicate": "say it once: merge the two into one section and keep the keywords of both",
    "figure": "make the figure the same in both, or say in each what it applies to",
    "polarity": "one says yes, the other no: keep the true one, fix or remove the other",
    "contents": "make the list the same in both, or name the kit each one describes",
}


def _root(kb_dir: str | None) -> Path:
    path = kb_dir or load_settings().kb.path
    return Path(path) if path else BUNDLED_KB


def _read(kb_dir: str | None) -> tuple[Path, Any] | int:
    root = _root(kb_dir)
    try:
        return root, read_kb(root)
    except KBError as exc:
        for error in exc.errors:
            print(f"error: {error}", file=sys.stderr)
        return 1


def equivalents_main(args: argparse.Namespace) -> int:
    read = _read(args.kb)
    if isinstance(read, int):
        return read
    root, content = read
    rows: list[dict[str, Any]] = []
    with Path(args.queries).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                str(row["topic"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise SystemExit(
                    f"{args.queries}:{number}: expected {{query, topic}}: {exc}"
                ) from None
            rows.append(row)
    detector = NearDuplicates(content.sections, args.threshold)
    sets = acceptable_topics(detector, {str(r["topic"]) for r in rows})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as sink:
        for row in rows:
            row = {**row, "topics": sets[str(row["topic"])]}
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
    multi = sum(len(sets[str(r["topic"])]) > 1 for r in rows)
    extra = sum(len(sets[str(r["topic"])]) - 1 for r in rows)
    print(
        f"{root}: {len(content.sections)} sections, similarity ≥ {args.threshold}:"
        f" {multi} of {len(rows)} questions have more than one acceptable topic"
        f" ({extra / max(1, len(rows)):.2f} extra per question); written to {out}"
    )
    return 0


def _where(content: Any) -> dict[str, str]:
    return {s.topic: s.source for s in content.sections}


def lint_main(args: argparse.Namespace) -> int:
    read = _read(args.kb)
    if isinstance(read, int):
        return read
    root, content = read
    detector = NearDuplicates(content.sections, floor=CONTRADICTION_SIMILARITY)
    found = contradictions(detector, {s.topic: s.facts for s in content.sections})
    duplicates = detector.duplicates()
    files = _where(content)
    per_file: dict[str, list[str]] = defaultdict(list)
    for pair in duplicates:
        per_file[files[pair.first]].append(
            f"  {pair.first}: near-duplicate of {files[pair.second]}: {pair.second}"
            f" (similarity {pair.similarity:.2f})\n    suggestion: {_ADVICE['duplicate']}"
        )
    for finding in found:
        per_file[files[finding.first]].append(_describe(finding, files))
    for file in sorted(per_file):
        print(file)
        for line in per_file[file]:
            print(line)
    kinds = Counter(f.kind for f in found)
    total = len(duplicates) + len(found)
    print(
        f"{root}: {len(content.sections)} sections; {len(duplicates)} near-duplicate pair(s),"
        f" {len(found)} contradiction(s) (figure {kinds['figure']},"
        f" polarity {kinds['polarity']}, contents {kinds['contents']}); {total} finding(s)"
    )
    if args.strict and total > args.max_findings:
        print(f"more than {args.max_findings} finding(s): failing (--strict)", file=sys.stderr)
        return 1
    return 0


def _describe(finding: Finding, files: dict[str, str]) -> str:
    return (
        f"  {finding.first}: {finding.kind} ({finding.about}) differs from"
        f" {files[finding.second]}: {finding.second}:"
        f" «{finding.first_says}» here, «{finding.second_says}» there\n"
        f"    suggestion: {_ADVICE[finding.kind]}"
    )


def add_parsers(kb_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kb_help = "KB directory (default: settings kb.path / KB_PATH / bundled)"
    eq = kb_sub.add_parser(
        "equivalents",
        help="write benchmark questions with every acceptable topic (near-duplicates of"
        " the label found in the KB's facts) for `kb eval`",
        description="Write the questions of --queries to --out with `topics`: the label,"
        " then every section whose facts say what the label's say (IDF-weighted Jaccard"
        " of the fact lemmas at least --threshold, and the label's numbers and names all"
        " present). Only the KB is read, never a ranking. `salesbot kb eval` then reports"
        " answered@1/@5 against these sets.",
    )
    eq.add_argument("--kb", help=kb_help)
    eq.add_argument("--queries", required=True, help="JSONL file with query and topic")
    eq.add_argument("--out", required=True, help="JSONL file to write, with topics added")
    eq.add_argument(
        "--threshold",
        type=float,
        default=SIMILARITY,
        help=f"IDF-weighted Jaccard of the facts' lemmas (default {SIMILARITY})",
    )
    eq.set_defaults(func=equivalents_main)
    lint = kb_sub.add_parser(
        "lint",
        help="near-duplicate sections and contradictory figures, yes/no and kit"
        " contents between sections about the same thing",
        description="For the people who write the KB: sections that say the same thing"
        " (merge them) and sections about the same thing that disagree on a figure with a"
        " unit (price, warranty, count), on yes against no, or on a kit's contents;"
        " printed per file and topic with a suggestion. Exit 0 unless --strict and more"
        " than --max-findings findings.",
    )
    lint.add_argument("--kb", help=kb_help)
    lint.add_argument(
        "--strict", action="store_true", help="exit 1 when findings exceed --max-findings"
    )
    lint.add_argument(
        "--max-findings", type=int, default=0, help="findings allowed with --strict (default 0)"
    )
    lint.set_defaults(func=lint_main)

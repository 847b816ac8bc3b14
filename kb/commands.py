"""`salesbot kb check` and `salesbot kb eval` (placeholders until the KB issue lands)."""

from __future__ import annotations

import argparse


def check_main(args: argparse.Namespace) -> int:
    raise SystemExit("salesbot kb check: not implemented yet")


def eval_main(args: argparse.Namespace) -> int:
    raise SystemExit("salesbot kb eval: not implemented yet")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    kb = sub.add_parser("kb", help="knowledge base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    check = kb_sub.add_parser("check", help="validate a KB directory")
    check.add_argument("--kb", help="KB directory (default: settings kb.path / KB_PATH / bundled)")
    check.set_defaults(func=check_main)
    ev = kb_sub.add_parser("eval", help="retrieval benchmark over a JSONL of {query, topic}")
    ev.add_argument("--kb", help="KB directory")
    ev.add_argument("--queries", required=True, help="JSONL file with query and topic")
    ev.add_argument("--k", type=int, default=10)
    ev.set_defaults(func=eval_main)

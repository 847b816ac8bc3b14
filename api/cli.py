"""The `salesbot` command line: serve, chat, openapi, db migrate, kb check/index/eval, dialogues
record/score/score-diff (the live-model scorecard: tests/support/dialogues/cli.py).

Each subcommand lives with the code it drives; this module only assembles them.
`dialogues` is a developer's command: the replay harness lives in the test tree
(tests/support), outside the service's wheel, and is loaded from the checkout
when the command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from api import chat, migrate, openapi, server
from core.cli import dispatch
from kb import KBError
from kb import commands as kb_commands

DIALOGUES_CLI = "tests.support.dialogues.cli"


def _dialogues_main(argv: Sequence[str]) -> int:
    try:
        harness = importlib.import_module(DIALOGUES_CLI)
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("tests"):
            raise
        print(
            "salesbot dialogues: the replay harness is part of the project's checkout "
            "(tests/support), not of an installed service; run it from a development "
            "install of the checkout (make setup-dev)",
            file=sys.stderr,
        )
        return 2
    return int(harness.main(list(argv)))


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salesbot", description="Wipon sales bot service")
    sub = parser.add_subparsers(dest="command", required=True)
    server.add_parser(sub)
    chat.add_parser(sub)
    openapi.add_parser(sub)
    migrate.add_parser(sub)
    kb_commands.add_parsers(sub)
    dialogues = sub.add_parser(
        "dialogues",
        help="record dialogues or score a live model on them (development checkout)",
        add_help=False,
    )
    # Listed for `salesbot --help`; its arguments are the harness's own (main()).
    dialogues.add_argument("dialogue_args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["dialogues"]:
        # Handed over whole: argparse's REMAINDER refuses a first argument that
        # looks like an option, so `salesbot dialogues --help` would be an error.
        return _dialogues_main(argv[1:])
    args = _build_parser().parse_args(argv)
    try:
        return dispatch("salesbot", args)
    except KBError as exc:
        print(f"salesbot {args.command}: {'; '.join(exc.errors)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

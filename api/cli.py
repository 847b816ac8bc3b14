"""The `salesbot` command line: serve, chat, kb check/eval.

Each subcommand lives with the code it drives; this module only assembles them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from graph.settings import SettingsError


def _build_parser() -> argparse.ArgumentParser:
    from api import chat, dialogues, server
    from kb import commands as kb_commands

    parser = argparse.ArgumentParser(prog="salesbot", description="Wipon sales bot service")
    sub = parser.add_subparsers(dest="command", required=True)
    server.add_parser(sub)
    chat.add_parser(sub)
    dialogues.add_parser(sub)
    kb_commands.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

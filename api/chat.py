"""`salesbot chat`: the interactive console of the runbook."""

from __future__ import annotations

import argparse


def chat_main(args: argparse.Namespace) -> int:
    raise SystemExit("not implemented yet")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("chat", help="talk to the bot in the terminal")
    p.add_argument("--session", default="console")
    p.add_argument("--user", default="console-user")
    p.set_defaults(func=chat_main)

"""What the command lines here share: a subcommand run so that a configuration or
path mistake is one line on stderr and an exit status, never a traceback."""

from __future__ import annotations

import argparse
import sys

from core.settings import SettingsError


def dispatch(prog: str, args: argparse.Namespace) -> int:
    """Run `args.func(args)` (set by the subcommand's parser)."""
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A bad path given on the command line or in the environment.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{prog} {args.command}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more (workers, concurrency)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value

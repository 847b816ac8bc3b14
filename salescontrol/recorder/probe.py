"""A chunk's duration as ffprobe reads it from the file.

ffprobe reports an Ogg Opus file's start_time as the Opus pre-skip (6.5 ms) and
its duration up to the last granule position counted from zero, so the audio the
file covers is duration - start_time; for a closed segment that equals the
length in ffmpeg's segment list to the microsecond. A file with only its headers
(a segment ffmpeg had just opened when it died) has no duration: None.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


async def probe_duration(
    path: Path, ffprobe: str = "ffprobe", timeout_s: float = 30
) -> float | None:
    proc = await asyncio.create_subprocess_exec(
        ffprobe,
        "-v",
        "error",
        "-show_entries",
        "format=duration,start_time",
        "-of",
        "json",
        str(path),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        log.warning("ffprobe timed out", extra={"file": path.name})
        return None
    if proc.returncode != 0:
        log.info(
            "ffprobe found no audio",
            extra={"file": path.name, "ffprobe": err.decode(errors="replace").strip()[-200:]},
        )
        return None
    fmt = json.loads(out or b"{}").get("format", {})
    try:
        duration = float(fmt["duration"]) - float(fmt.get("start_time", 0) or 0)
    except (KeyError, ValueError):
        return None
    return duration if duration > 0 else None

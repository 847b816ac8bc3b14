"""What an audio file really is, by ffprobe: codec, duration, sample rate, channels.
A chunk's length is measured, never assumed."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path


class NotAudio(ValueError):
    """ffprobe cannot read the file as audio."""


@dataclass(frozen=True, slots=True)
class AudioInfo:
    codec: str
    duration_s: float
    sample_rate: int
    channels: int


def ffprobe_path() -> str | None:
    return shutil.which("ffprobe")


async def probe(path: Path, timeout_s: float = 20.0) -> AudioInfo:
    """The first audio stream of `path`; NotAudio when there is none to read."""
    exe = ffprobe_path()
    if exe is None:
        raise RuntimeError("ffprobe is not installed (Debian: apt install ffmpeg)")
    proc = await asyncio.create_subprocess_exec(
        exe,
        "-v", "error",
        "-select_streams", "a:0",
        "-show_entries", "stream=codec_name,sample_rate,channels:format=duration",
        "-of", "json",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise NotAudio("ffprobe took too long") from None
    if proc.returncode != 0:
        raise NotAudio("ffprobe cannot read it as audio")
    data = json.loads(out or b"{}")
    streams = data.get("streams") or []
    duration = (data.get("format") or {}).get("duration")
    if not streams or duration in (None, "N/A"):
        raise NotAudio("no audio stream")
    stream = streams[0]
    return AudioInfo(
        codec=str(stream.get("codec_name", "")),
        duration_s=float(duration),
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=int(stream.get("channels") or 0),
    )

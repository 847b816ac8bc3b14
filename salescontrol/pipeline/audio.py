"""Decoding a chunk for the pipeline: 16 kHz mono signed 16-bit PCM by ffmpeg, the
format WebRTC VAD takes and Whisper resamples to anyway."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
BYTES_PER_SAMPLE = 2


class DecodeError(RuntimeError):
    """ffmpeg could not decode the file."""


async def decode_pcm(path: Path, timeout_s: float = 120.0) -> bytes:
    """The whole file as 16 kHz mono s16le."""
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
        "-i", str(path),
        "-f", "s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise DecodeError(f"ffmpeg took longer than {timeout_s} s") from None
    if proc.returncode != 0:
        raise DecodeError(f"ffmpeg failed: {err.decode(errors='replace').strip()[:300]}")
    return out


def to_float(pcm: bytes) -> np.ndarray:
    """s16le → float32 in [-1, 1) (what faster-whisper takes)."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def seconds(pcm: bytes) -> float:
    return len(pcm) / (SAMPLE_RATE * BYTES_PER_SAMPLE)

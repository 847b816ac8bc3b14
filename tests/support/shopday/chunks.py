"""The day cut into opus chunks as the recorder cuts a live feed.

Boundaries fall on multiples of `chunk_s` since the epoch (the recorder's ffmpeg
cuts at clock time under TZ=UTC): a day that starts on a boundary begins with a
full chunk, one that starts between two begins with the remainder, and the last
chunk ends with the day. Each chunk is encoded on its own with the recorder's
codec settings (libopus, mono, 16 kHz input, `bitrate`) into Ogg; its start is
exact by construction and its duration is what ffprobe reports (libopus' 312
samples of pre-skip at 48 kHz make that ~6.5 ms more than the PCM, which
decodes back to exactly its samples).
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.support.shopday.mix import from_pcm16, to_pcm16
from tests.support.shopday.params import DayParams

FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]


@dataclass(frozen=True)
class Cut:
    """Samples [start, end) of the day, beginning at `start_us` since the epoch."""

    index: int
    start: int
    end: int
    start_us: int


def cuts(samples: int, params: DayParams) -> list[Cut]:
    """The clock-aligned pieces of a day of `samples` samples."""
    chunk_us = params.chunk_s * 1_000_000
    start_us = params.start_us
    end_us = start_us + samples * 1_000_000 // params.sample_rate
    edges = [start_us]
    boundary = (start_us // chunk_us + 1) * chunk_us
    while boundary < end_us:
        edges.append(boundary)
        boundary += chunk_us
    positions = [params.sample_at(us) for us in edges] + [samples]
    return [
        Cut(i, positions[i], positions[i + 1], edges[i])
        for i in range(len(edges))
        if positions[i + 1] > positions[i]
    ]


def encode(pcm: np.ndarray, path: Path, params: DayParams) -> None:
    """One chunk, Ogg Opus, as the recorder's ffmpeg writes it."""
    subprocess.run(
        [*FFMPEG, "-f", "s16le", "-ar", str(params.sample_rate), "-ac", "1", "-i", "pipe:0",
         "-ac", "1", "-c:a", "libopus", "-b:a", params.bitrate, "-f", "opus", str(path)],
        input=to_pcm16(pcm), check=True, capture_output=True,
    )  # fmt: skip


def probe_duration(path: Path) -> float:
    """The duration ffprobe reports for a file, in seconds."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True, check=True, text=True,
    )  # fmt: skip
    return float(json.loads(out.stdout)["format"]["duration"])


def decode(path: Path, sample_rate: int = 16000) -> np.ndarray:
    """A chunk decoded back to float32 mono samples."""
    out = subprocess.run(
        [*FFMPEG, "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", str(sample_rate), "pipe:1"],
        capture_output=True, check=True,
    )  # fmt: skip
    return from_pcm16(out.stdout)


def write_chunks(day: np.ndarray, params: DayParams, folder: Path) -> list[tuple[Cut, Path, float]]:
    """Encode every piece into `folder`; (cut, file, probed duration) per chunk."""
    folder.mkdir(parents=True, exist_ok=True)

    def one(cut: Cut) -> tuple[Cut, Path, float]:
        path = folder / f"{cut.index:04d}.opus"
        encode(day[cut.start : cut.end], path, params)
        return cut, path, probe_duration(path)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(one, cuts(len(day), params)))

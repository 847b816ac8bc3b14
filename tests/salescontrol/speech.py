"""Short Russian speech for the pipeline's tests: espeak-ng's voice, trimmed to
the exact samples, and laid over quiet noise into opus chunks like the recorder's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from salescontrol.pipeline.audio import SAMPLE_RATE


def say(text: str, tmp: Path) -> np.ndarray:
    wav = tmp / "say.wav"
    subprocess.run(["espeak-ng", "-v", "ru", "-w", str(wav), text], check=True)
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(wav),
         "-f", "s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32)
    # espeak-ng pads its output with silence: trim it so the truth is exact.
    loud = np.flatnonzero(np.abs(samples) > 300)
    return samples[loud[0] : loud[-1] + 1]


def render(parts: list[tuple[float, np.ndarray]], seconds: float) -> np.ndarray:
    """`parts` placed at their offsets over quiet noise."""
    rng = np.random.default_rng(7)
    day = rng.normal(0, 60, int(seconds * SAMPLE_RATE)).astype(np.float32)
    for offset, samples in parts:
        start = int(offset * SAMPLE_RATE)
        day[start : start + len(samples)] += samples
    return day


def encode(samples: np.ndarray, out: Path) -> Path:
    """Opus in Ogg, mono, as the recorder writes it."""
    pcm = out.with_suffix(".raw")
    pcm.write_bytes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "s16le", "-ar",
         str(SAMPLE_RATE), "-ac", "1", "-i", str(pcm), "-c:a", "libopus", "-b:a", "24k",
         str(out)],
        check=True,
    )  # fmt: skip
    pcm.unlink()
    return out


def chunk_with(parts: list[tuple[float, np.ndarray]], seconds: float, tmp: Path) -> Path:
    """`parts` placed at their offsets over quiet noise, encoded as the recorder does."""
    return encode(render(parts, seconds), tmp / "chunk.opus")


def chunks_of(day: np.ndarray, seconds: float, tmp: Path) -> list[Path]:
    """The day cut into chunks of `seconds`, each encoded on its own."""
    step = int(seconds * SAMPLE_RATE)
    return [
        encode(day[i : i + step], tmp / f"chunk-{i // step:03d}.opus")
        for i in range(0, len(day), step)
    ]

"""Voice activity on real speech (espeak-ng's Russian voice) in an opus chunk over
background noise: the speech found matches where it was put, within a few frames,
pauses inside a phrase do not split it, and noise alone is not speech."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core.settings import load_settings
from salescontrol.pipeline.audio import SAMPLE_RATE, decode_pcm
from salescontrol.pipeline.vad import find_speech

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
    reason="needs espeak-ng and ffmpeg (apt install espeak-ng ffmpeg; .ci/run installs them)",
)
CFG = load_settings().salescontrol.speech.vad


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


def chunk_with(parts: list[tuple[float, np.ndarray]], seconds: float, tmp: Path) -> Path:
    """`parts` placed at their offsets over quiet noise, encoded as the recorder does."""
    rng = np.random.default_rng(7)
    day = rng.normal(0, 60, int(seconds * SAMPLE_RATE)).astype(np.float32)
    for offset, samples in parts:
        start = int(offset * SAMPLE_RATE)
        day[start : start + len(samples)] += samples
    pcm = tmp / "chunk.raw"
    pcm.write_bytes(np.clip(day, -32768, 32767).astype("<i2").tobytes())
    out = tmp / "chunk.opus"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "s16le", "-ar",
         str(SAMPLE_RATE), "-ac", "1", "-i", str(pcm), "-c:a", "libopus", "-b:a", "24k",
         str(out)],
        check=True,
    )  # fmt: skip
    return out


async def test_speech_is_found_where_it_was_said(tmp_path: Path) -> None:
    first = say("Здравствуйте! Капучино, пожалуйста.", tmp_path)
    second = say("Большой или средний? Большой всего на двести тенге дороже.", tmp_path)
    truth = [(2.0, 2.0 + len(first) / SAMPLE_RATE), (9.0, 9.0 + len(second) / SAMPLE_RATE)]
    path = chunk_with([(2.0, first), (9.0, second)], 20.0, tmp_path)

    spans = find_speech(await decode_pcm(path), CFG)

    assert len(spans) == 2, spans
    for span, (start, end) in zip(spans, truth, strict=True):
        assert span.start_s == pytest.approx(start, abs=0.25)
        assert span.end_s == pytest.approx(end, abs=0.35)


async def test_noise_alone_is_not_speech(tmp_path: Path) -> None:
    path = chunk_with([], 10.0, tmp_path)
    assert find_speech(await decode_pcm(path), CFG) == []


async def test_a_short_pause_inside_a_phrase_does_not_split_it(tmp_path: Path) -> None:
    word = say("Капучино", tmp_path)
    gap = 0.3
    path = chunk_with([(1.0, word), (1.0 + len(word) / SAMPLE_RATE + gap, word)], 6.0, tmp_path)
    spans = find_speech(await decode_pcm(path), CFG)
    assert len(spans) == 1, spans

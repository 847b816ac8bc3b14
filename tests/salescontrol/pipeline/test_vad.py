"""Voice activity on real speech (espeak-ng's Russian voice) in an opus chunk over
background noise: the speech found matches where it was put, within a few frames,
pauses inside a phrase do not split it, and noise alone is not speech."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.settings import load_settings
from salescontrol.pipeline.audio import SAMPLE_RATE, decode_pcm
from salescontrol.pipeline.vad import find_speech
from tests.salescontrol.speech import chunk_with, say

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
    reason="needs espeak-ng and ffmpeg (apt install espeak-ng ffmpeg; .ci/run installs them)",
)
CFG = load_settings().salescontrol.speech.vad


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

"""Where a chunk has speech: WebRTC VAD on 30 ms frames, with hysteresis so that a
cough does not start speech and a breath does not end it.

Speech starts when `start_ratio` of the last `start_window` frames are voiced (at
the first voiced frame of that window) and stops when at most `stop_ratio` of the
last `stop_window` frames are (after the last voiced one). Segments closer than
`merge_gap_s` are joined, and shorter than `min_segment_s` dropped.
"""

from __future__ import annotations

from collections import deque

import webrtcvad

from core.settings import VadSettings
from salescontrol.pipeline.audio import BYTES_PER_SAMPLE, SAMPLE_RATE
from salescontrol.pipeline.messages import SpeechSpan


def voiced_frames(pcm: bytes, cfg: VadSettings) -> list[bool]:
    """WebRTC's verdict for each whole frame of 16 kHz s16le `pcm`."""
    vad = webrtcvad.Vad(cfg.aggressiveness)
    size = SAMPLE_RATE * cfg.frame_ms // 1000 * BYTES_PER_SAMPLE
    return [
        vad.is_speech(pcm[i : i + size], SAMPLE_RATE) for i in range(0, len(pcm) - size + 1, size)
    ]


def _raw_segments(voiced: list[bool], cfg: VadSettings) -> list[tuple[int, int]]:
    """(first, last + 1) frame indices of speech, by the hysteresis rule."""
    segments: list[tuple[int, int]] = []
    start_window: deque[int] = deque(maxlen=cfg.start_window)
    stop_window: deque[bool] = deque(maxlen=cfg.stop_window)
    start: int | None = None
    last_voiced = -1
    for i, is_voiced in enumerate(voiced):
        if is_voiced:
            last_voiced = i
        if start is None:
            if is_voiced:
                start_window.append(i)
            # Voiced frames older than the window no longer count.
            while start_window and start_window[0] <= i - cfg.start_window:
                start_window.popleft()
            if len(start_window) >= cfg.start_ratio * cfg.start_window:
                start = start_window[0]
                stop_window.clear()
                stop_window.extend([True] * (i - start + 1))
        else:
            stop_window.append(is_voiced)
            full = len(stop_window) == cfg.stop_window
            if full and sum(stop_window) <= cfg.stop_ratio * cfg.stop_window:
                segments.append((start, last_voiced + 1))
                start = None
                start_window.clear()
    if start is not None:
        segments.append((start, last_voiced + 1))
    return segments


def find_speech(pcm: bytes, cfg: VadSettings) -> list[SpeechSpan]:
    """The speech of a chunk, in seconds from its start."""
    frame_s = cfg.frame_ms / 1000
    merged: list[list[float]] = []
    for first, end in _raw_segments(voiced_frames(pcm, cfg), cfg):
        start_s, end_s = first * frame_s, end * frame_s
        if merged and start_s - merged[-1][1] < cfg.merge_gap_s:
            merged[-1][1] = end_s
        else:
            merged.append([start_s, end_s])
    return [
        SpeechSpan(start_s=round(a, 3), end_s=round(b, 3))
        for a, b in merged
        if b - a >= cfg.min_segment_s
    ]

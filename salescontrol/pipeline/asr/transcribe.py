"""One closed dialogue transcribed: its speech pieces cut from their chunks, laid
end to end with short silences, transcribed by Whisper in a thread (a dialogue
longer than WINDOW_S in several calls split between pieces), and the segment and
word times mapped back to seconds from the dialogue's start.

Only the speech the VAD found is decoded by Whisper (its own VAD filter stays off),
and each piece keeps `pad_s` of audio around it so that word edges are not clipped.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.settings.speech import AsrSettings
from salescontrol.pipeline.asr.model import LoadedModel, load_model, model_name
from salescontrol.pipeline.asr.redact import redact_segments
from salescontrol.pipeline.audio import SAMPLE_RATE, decode_pcm, to_float
from salescontrol.pipeline.messages import (
    DialogueSpeech,
    TranscriptResult,
    TranscriptSegment,
    Word,
)

log = logging.getLogger(__name__)

GAP_S = 0.3
"""Silence laid between two pieces that are apart in time."""
_TOUCH_S = 0.05
"""Pieces closer than this (one utterance cut at a chunk border) are joined without it."""
TRAILING_NO_SPEECH = 0.3
"""After the last word Whisper often "hears" a caption — СПОКОЙНАЯ МУЗЫКА, credits
of subtitles, a stray "Иди." — in the padding and its own zero fill: trailing
segments the model itself doubts are speech (no-speech probability at least this;
measured 0.42–0.53 for such captions, about 0.01 for real speech) are dropped from
the text. The pass's no-speech probability still counts them, so that a dialogue
whose only segment Whisper doubts (empty text once it is dropped) can trigger the
second pass."""

AudioOf = Callable[[uuid.UUID], Awaitable[Path]]


@dataclass(frozen=True)
class Stretch:
    """A run of samples in the laid-out audio: [at_s, at_s + length_s) there is
    [dialogue_s, dialogue_s + length_s) in the dialogue."""

    at_s: float
    length_s: float
    dialogue_s: float


class Timeline:
    """Laid-out audio time → seconds from the dialogue's start. A time in an inserted
    silence goes to the start of the next stretch (a word's start) or the end of
    the previous one (a word's end), so that times stay in order."""

    def __init__(self, stretches: list[Stretch]):
        self.stretches = stretches
        self.starts = [s.at_s for s in stretches]

    def map(self, t: float, *, end: bool) -> float:
        i = bisect.bisect_right(self.starts, t) - 1
        if i < 0:
            return self.stretches[0].dialogue_s
        s = self.stretches[i]
        if t <= s.at_s + s.length_s:
            return s.dialogue_s + (t - s.at_s)
        if end or i + 1 == len(self.stretches):
            return s.dialogue_s + s.length_s
        return self.stretches[i + 1].dialogue_s


async def lay_out(
    speech: DialogueSpeech, audio_of: AudioOf, pad_s: float
) -> tuple[np.ndarray, Timeline]:
    """The dialogue's speech as one float32 signal, and its timeline. Each chunk is
    decoded once; padded pieces that overlap are not laid twice."""
    decoded: dict[uuid.UUID, np.ndarray] = {}
    for piece in speech.pieces:
        if piece.chunk_id not in decoded:
            decoded[piece.chunk_id] = to_float(await decode_pcm(await audio_of(piece.chunk_id)))
    spans: list[tuple[float, float, np.ndarray]] = []  # dialogue start, end, samples
    for piece in sorted(speech.pieces, key=lambda p: (p.chunk_started_at, p.start_s)):
        samples = decoded[piece.chunk_id]
        chunk_s = len(samples) / SAMPLE_RATE
        start = max(0.0, piece.start_s - pad_s)
        end = min(chunk_s, piece.end_s + pad_s)
        offset = (piece.chunk_started_at - speech.started_at).total_seconds()
        if spans and offset + start < spans[-1][1]:
            start = spans[-1][1] - offset
        if end - start < 1 / SAMPLE_RATE:
            continue
        first, last = round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)
        spans.append(
            (offset + first / SAMPLE_RATE, offset + last / SAMPLE_RATE, samples[first:last])
        )
    parts: list[np.ndarray] = []
    stretches: list[Stretch] = []
    at = 0
    gap = np.zeros(round(GAP_S * SAMPLE_RATE), dtype=np.float32)
    for k, (begin, _, samples) in enumerate(spans):
        if k and begin - spans[k - 1][1] > _TOUCH_S:
            parts.append(gap)
            at += len(gap)
        stretches.append(Stretch(at / SAMPLE_RATE, len(samples) / SAMPLE_RATE, begin))
        parts.append(samples)
        at += len(samples)
    audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    return audio, Timeline(stretches)


@dataclass(frozen=True)
class Pass:
    segments: list[TranscriptSegment]
    """In dialogue time, not yet masked."""
    language: str
    avg_logprob: float | None
    no_speech_prob: float | None
    """The highest of all segments Whisper returned, the dropped trailing ones too."""
    model: str

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text)


def _whisper_pass(
    loaded: LoadedModel,
    audio: np.ndarray,
    timeline: Timeline,
    cfg: AsrSettings,
    limit_s: float,
    prompt: str | None = None,
) -> Pass:
    """Runs in a worker thread (CPU-bound; the generator is consumed here)."""
    raw, info = loaded.whisper.transcribe(
        audio,
        language=None if cfg.language == "auto" else cfg.language,
        beam_size=cfg.beam_size,
        temperature=cfg.temperatures,
        word_timestamps=True,
        vad_filter=False,
        condition_on_previous_text=False,
        initial_prompt=prompt,
    )
    raw = list(raw)
    no_speech = max((s.no_speech_prob for s in raw), default=None)
    while raw and raw[-1].no_speech_prob >= TRAILING_NO_SPEECH:
        raw.pop()

    def at(t: float, end: bool) -> float:
        return round(min(max(timeline.map(t, end=end), 0.0), limit_s), 3)

    segments = [_segment(s, at) for s in raw]
    weights = [max(s.end - s.start, 0.0) for s in raw]
    avg = None
    if raw:
        total = sum(weights)
        avg = (
            sum(s.avg_logprob * w for s, w in zip(raw, weights, strict=True)) / total
            if total > 0
            else sum(s.avg_logprob for s in raw) / len(raw)
        )
    return Pass(
        segments=segments,
        language=info.language,
        avg_logprob=avg,
        no_speech_prob=no_speech,
        model=loaded.name,
    )


def _segment(raw: Any, at: Callable[[float, bool], float]) -> TranscriptSegment:
    words = [
        Word(
            start_s=at(w.start, False),
            end_s=max(at(w.end, True), at(w.start, False)),
            word=w.word,
            probability=round(float(w.probability), 4),
        )
        for w in raw.words or []
    ]
    start = at(raw.start, False)
    return TranscriptSegment(
        start_s=start, end_s=max(at(raw.end, True), start), text=raw.text.strip(), words=words
    )


WINDOW_S = 28.0
"""Laid-out audio up to this long goes to Whisper in one call; a longer dialogue is
split at the gaps between its pieces into calls of at most this (a piece longer
than that is a call of its own). Whisper decodes 30 s windows; past the first one
of a call it loses whole turns or loops on a syllable, and the shop's prompt primes
only the first window. Three scripted dialogues back to back as one (37-46 s):
WER 0.446 in one call, 0.242 in windows (`python -m bench.asr_stages`, the `long`
row); dialogues that fit in one window are unchanged."""


def windows(timeline: Timeline) -> list[list[Stretch]]:
    """The stretches grouped into runs that each fit in WINDOW_S, in order."""
    groups: list[list[Stretch]] = []
    for stretch in timeline.stretches:
        end = stretch.at_s + stretch.length_s
        if groups and end - groups[-1][0].at_s <= WINDOW_S:
            groups[-1].append(stretch)
        else:
            groups.append([stretch])
    return groups


def _whisper_passes(
    loaded: LoadedModel,
    audio: np.ndarray,
    timeline: Timeline,
    cfg: AsrSettings,
    limit_s: float,
    prompt: str | None = None,
) -> Pass:
    """`_whisper_pass` over each of the dialogue's windows, joined into one Pass."""
    groups = windows(timeline)
    if len(groups) < 2:
        return _whisper_pass(loaded, audio, timeline, cfg, limit_s, prompt)
    passes: list[tuple[Pass, float]] = []
    for group in groups:
        begin = group[0].at_s
        end = group[-1].at_s + group[-1].length_s
        part = audio[round(begin * SAMPLE_RATE) : round(end * SAMPLE_RATE)]
        local = Timeline([Stretch(s.at_s - begin, s.length_s, s.dialogue_s) for s in group])
        passes.append((_whisper_pass(loaded, part, local, cfg, limit_s, prompt), end - begin))
    weighed = [(p.avg_logprob, length) for p, length in passes if p.avg_logprob is not None]
    total = sum(length for _, length in weighed)
    avg = sum(a * length for a, length in weighed) / total if total > 0 else None
    no_speech = [p.no_speech_prob for p, _ in passes if p.no_speech_prob is not None]
    return Pass(
        segments=[s for p, _ in passes for s in p.segments],
        language=passes[0][0].language,
        avg_logprob=avg,
        no_speech_prob=max(no_speech, default=None),
        model=loaded.name,
    )


def unreliable(first: Pass, speech_s: float, cfg: AsrSettings) -> bool:
    """Whether the second pass should try: low confidence, too few characters per
    second of speech, or likely no speech at all."""
    rule = cfg.second_pass
    chars_per_s = len(first.text) / speech_s if speech_s > 0 else float("inf")
    return (
        (first.avg_logprob is not None and first.avg_logprob < rule.avg_logprob_below)
        or chars_per_s < rule.chars_per_s_below
        or (first.no_speech_prob is not None and first.no_speech_prob > rule.no_speech_prob_above)
    )


async def transcribe_dialogue(
    speech: DialogueSpeech,
    audio_of: AudioOf,
    cfg: AsrSettings,
    *,
    prompt: str | None = None,
    bundled_dir: Path | None = None,
) -> TranscriptResult:
    """The dialogue's transcript in dialogue time, numbers masked. `audio_of` gives
    a chunk's audio file (a local path, or one fetched from the core server);
    `prompt` primes Whisper with the shop's words; `bundled_dir` is where the
    bundled model is assembled (default .cache/whisper-base)."""
    audio, timeline = await lay_out(speech, audio_of, cfg.pad_s)
    limit_s = max((speech.ended_at - speech.started_at).total_seconds(), 0.0)
    speech_s = sum(max(p.end_s - p.start_s, 0.0) for p in speech.pieces)
    if not len(audio):
        language = "und" if cfg.language == "auto" else cfg.language  # ISO 639: undetermined
        return TranscriptResult(
            text="", segments=[], language=language, model=model_name(cfg.model, cfg)
        )

    async def run(model: str) -> Pass:
        loaded = await asyncio.to_thread(load_model, model, cfg, bundled_dir)
        began = time.perf_counter()
        result = await asyncio.to_thread(
            _whisper_passes, loaded, audio, timeline, cfg, limit_s, prompt
        )
        log.info(
            "dialogue %s: %.1f s of audio by %s in %.1f s",
            speech.dialogue_id, len(audio) / SAMPLE_RATE, loaded.name,
            time.perf_counter() - began,
        )  # fmt: skip
        return result

    chosen, passes = await run(cfg.model), 1
    if cfg.second_pass.model and unreliable(chosen, speech_s, cfg):
        chosen, passes = await run(cfg.second_pass.model), 2
    text, segments = redact_segments(chosen.segments)
    return TranscriptResult(
        text=text,
        segments=segments,
        language=chosen.language,
        model=chosen.model,
        avg_logprob=chosen.avg_logprob,
        no_speech_prob=chosen.no_speech_prob,
        passes=passes,
    )

"""Building a shop day: script → speech → timeline → audio → chunks → truth, cached.

`build_shop_day` is what tests call; it returns the cached day when there is
one (a JSON read), and otherwise synthesizes it, which takes a few seconds.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

from tests.support.shopday import cache
from tests.support.shopday.chunks import Cut, write_chunks
from tests.support.shopday.layout import Timeline, lay_out, render
from tests.support.shopday.mix import set_level, to_pcm16, trim
from tests.support.shopday.params import DayParams
from tests.support.shopday.script import Script, read_script
from tests.support.shopday.truth import Chunk, DialogueTruth, ShopDay, TurnTruth
from tests.support.shopday.voices import FESTIVAL_VOICE, Voice, synthesize


@functools.cache
def missing_tools() -> tuple[str, ...]:
    """What this machine lacks to build a day (empty when nothing)."""
    missing = [tool for tool in ("festival", "sox", "ffmpeg", "ffprobe") if not shutil.which(tool)]
    if "festival" not in missing:
        voice = subprocess.run(["festival", "-b", f"({FESTIVAL_VOICE})"], capture_output=True)
        if voice.returncode != 0:
            missing.append(f"festival's {FESTIVAL_VOICE} (Debian package festvox-ru)")
    return tuple(missing)


def _speech(script: Script, params: DayParams) -> list[list[np.ndarray]]:
    voices: dict[str, Voice] = {"seller": params.seller, "customer": params.customer}
    said = synthesize([(voices[t.who], t.text) for d in script.dialogues for t in d.turns])
    leveled = iter(set_level(trim(audio), params.speech_dbfs) for audio in said)
    return [[next(leveled) for _ in d.turns] for d in script.dialogues]


def _truth(
    script: Script, timeline: Timeline, cuts: list[Cut], params: DayParams
) -> tuple[DialogueTruth, ...]:
    dialogues = []
    for d, dialogue in enumerate(script.dialogues):
        placed = timeline.of_dialogue(d)
        first, last = placed[0].start, placed[-1].end
        turns = tuple(
            TurnTruth(turn.who, turn.text, params.instant(p.start), params.instant(p.end))
            for turn, p in zip(dialogue.turns, placed, strict=True)
        )
        overlapped = tuple(c.index for c in cuts if c.start < last and first < c.end)
        labels = dialogue.upsell.model_dump(mode="json")
        dialogues.append(
            DialogueTruth(dialogue.id, dialogue.silence_before_s, turns, labels, overlapped)
        )
    return tuple(dialogues)


def _write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(to_pcm16(audio))


def _build(script: Script, params: DayParams, folder: Path) -> ShopDay:
    speech = _speech(script, params)
    timeline = lay_out(script, speech, params)
    audio = render(timeline, speech, params)
    _write_wav(folder / "day.wav", audio, params.sample_rate)
    written = write_chunks(audio, params, folder / "chunks")
    chunks = tuple(
        Chunk(
            cut.index,
            path,
            params.instant(cut.start),
            params.instant(cut.end),
            cut.end - cut.start,
            probed,
        )
        for cut, path, probed in written
    )
    day = ShopDay(
        folder=folder,
        business=script.business,
        start=params.instant(0),
        end=params.instant(timeline.samples),
        sample_rate=params.sample_rate,
        chunk_s=params.chunk_s,
        chunks=chunks,
        dialogues=_truth(script, timeline, [cut for cut, _, _ in written], params),
        params=params.key_data(),
    )
    manifest = json.dumps(day.to_json(), ensure_ascii=False, indent=1)
    (folder / cache.MANIFEST).write_text(manifest, encoding="utf-8")
    return day


def build_shop_day(
    dialogues: Path, params: DayParams | None = None, cache_dir: Path | None = None
) -> ShopDay:
    """The shop day of a dialogues YAML file: chunks, the whole day's WAV and
    the ground truth, under `cache_dir` (default `<root>/.cache/shopday`)."""
    params = params or DayParams()
    raw = dialogues.read_bytes()
    script = read_script(raw, str(dialogues))
    cache_dir = cache_dir or cache.default_cache_dir()
    key = cache.day_key(raw, params)
    folder = cache_dir / key
    day = cache.load(folder)
    if day is not None:
        return day
    with cache.locked(cache_dir, key):
        day = cache.load(folder)
        if day is not None:
            return day
        with cache.staging(cache_dir, key) as tmp:
            _build(script, params, tmp)
            cache.publish(tmp, folder)
    day = cache.load(folder)
    assert day is not None
    return day

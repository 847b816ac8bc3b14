"""Where every turn goes on the day's timeline, and the day's audio.

Dialogue k starts `silence_before_s` after the end of dialogue k-1 (the first
one after the day's start); inside a dialogue the turns follow each other after
pauses drawn from a seeded RNG in `pause_s`, so the same script and parameters
always give the same day. After the last dialogue, `tail_s` of room noise.
All positions are whole samples.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tests.support.shopday.mix import pink_noise
from tests.support.shopday.params import DayParams
from tests.support.shopday.script import Script


@dataclass(frozen=True)
class Placed:
    """A turn on the timeline: samples [start, end) hold its speech."""

    dialogue: int
    turn: int
    start: int
    end: int


@dataclass(frozen=True)
class Timeline:
    placed: tuple[Placed, ...]
    samples: int

    def of_dialogue(self, index: int) -> list[Placed]:
        return [p for p in self.placed if p.dialogue == index]


def lay_out(script: Script, speech: Sequence[Sequence[np.ndarray]], params: DayParams) -> Timeline:
    """Positions of the turns, `speech[d][t]` being turn t of dialogue d."""
    rng = random.Random(params.seed)
    rate = params.sample_rate
    low, high = params.pause_s
    cursor = 0
    placed: list[Placed] = []
    for d, dialogue in enumerate(script.dialogues):
        cursor += round(dialogue.silence_before_s * rate)
        for t, audio in enumerate(speech[d]):
            if t:
                cursor += round(rng.uniform(low, high) * rate)
            placed.append(Placed(d, t, cursor, cursor + len(audio)))
            cursor += len(audio)
    return Timeline(tuple(placed), cursor + round(params.tail_s * rate))


def render(
    timeline: Timeline, speech: Sequence[Sequence[np.ndarray]], params: DayParams
) -> np.ndarray:
    """The whole day: room noise with every turn added at its place."""
    day = pink_noise(timeline.samples, params.seed, params.noise_dbfs, params.sample_rate)
    for p in timeline.placed:
        day[p.start : p.end] += speech[p.dialogue][p.turn]
    return day

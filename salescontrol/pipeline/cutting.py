"""Cutting a device's speech into dialogues, one chunk at a time, in chunk order.

A pure function of what is known when a chunk is processed: the device's open
dialogue (if any), where the previous chunk ended, this chunk's span and its speech.
A dialogue ends after a silence longer than `silence_gap_s`, at `max_dialogue_s`
(speech running past it is split there), and when the chunk sequence has a hole
(the device was off). A dialogue is closed as soon as the silence after it is
known to be long enough — at the end of the chunk if need be — so that it can be
transcribed once, whole. Running it again on the same input gives the same plan.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.settings import DialogueSettings

SILENCE = "silence"
MAX_LENGTH = "max_length"
GAP = "gap"
IDLE = "idle"


@dataclass(frozen=True, slots=True)
class Speech:
    started_at: datetime
    ended_at: datetime

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(slots=True)
class Plan:
    """A dialogue as this chunk leaves it: the open one carried in or a new one,
    the speech this chunk adds to it, and why it closed (None: still open)."""

    started_at: datetime
    ended_at: datetime
    speech_s: float
    id: uuid.UUID | None = None
    """The open dialogue's id; None: a dialogue this chunk starts."""
    added: list[Speech] = field(default_factory=list)
    closed: str | None = None

    def add(self, speech: Speech) -> None:
        self.added.append(speech)
        self.ended_at = max(self.ended_at, speech.ended_at)
        self.speech_s += speech.seconds


@dataclass(frozen=True, slots=True)
class Cut:
    plans: list[Plan]
    """In time order; only the last may still be open."""
    cursor: datetime | None
    """Where the device's ordered processing now stands."""


def cut(
    open_dialogue: Plan | None,
    cursor: datetime | None,
    chunk_start: datetime,
    chunk_end: datetime,
    speech: list[Speech],
    cfg: DialogueSettings,
) -> Cut:
    """The dialogues after one more chunk of a device (see the module's rules)."""
    tolerance = timedelta(seconds=cfg.chunk_gap_s)
    late = cursor is not None and chunk_start < cursor - tolerance
    plans: list[Plan] = []
    current: Plan | None = None
    if open_dialogue is not None and not late:
        plans.append(open_dialogue)
        current = open_dialogue
        if cursor is not None and chunk_start - cursor > tolerance:
            current.closed = GAP
            current = None
    for piece in sorted(speech, key=lambda s: s.started_at):
        rest: Speech | None = piece
        while rest is not None:
            if current is not None and (
                (rest.started_at - current.ended_at).total_seconds() > cfg.silence_gap_s
            ):
                current.closed = SILENCE
                current = None
            if current is None:
                current = Plan(rest.started_at, rest.started_at, 0.0)
                plans.append(current)
            limit = current.started_at + timedelta(seconds=cfg.max_dialogue_s)
            if rest.ended_at <= limit:
                current.add(rest)
                rest = None
                continue
            # Speech running past the maximum: split at it, the rest starts anew.
            if rest.started_at < limit:
                current.add(Speech(rest.started_at, limit))
                rest = Speech(limit, rest.ended_at)
            current.closed = MAX_LENGTH
            current = None
    if current is not None and current.closed is None:
        if (chunk_end - current.ended_at).total_seconds() > cfg.silence_gap_s:
            current.closed = SILENCE
        elif late:
            # A chunk older than what was already cut has no neighbours to join.
            current.closed = GAP
    new_cursor = cursor if late else max(filter(None, (cursor, chunk_end)))
    return Cut(plans, new_cursor)

"""Cutting speech into dialogues across chunks: the silence and length rules, holes
in the chunk sequence, late chunks, and the same plan on every run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core.settings import DialogueSettings
from salescontrol.pipeline.cutting import GAP, MAX_LENGTH, SILENCE, Cut, Plan, Speech, cut

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CFG = DialogueSettings(silence_gap_s=12, max_dialogue_s=120, chunk_gap_s=2)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def speech(*spans: tuple[float, float]) -> list[Speech]:
    return [Speech(at(a), at(b)) for a, b in spans]


def chunk(
    index: int, spans: list[Speech], open_: Plan | None = None, cursor: float | None = None
) -> Cut:
    start, end = at(60 * index), at(60 * index + 60)
    return cut(open_, at(cursor) if cursor is not None else None, start, end, spans, CFG)


def shape(result: Cut) -> list[tuple[float, float, str | None]]:
    return [
        ((p.started_at - T0).total_seconds(), (p.ended_at - T0).total_seconds(), p.closed)
        for p in result.plans
    ]


def test_a_long_silence_splits_and_a_short_one_does_not() -> None:
    result = chunk(0, speech((1, 3), (10, 12), (30, 33), (40, 55)))
    # 12 → 30 is 18 s of silence: a new dialogue; 3 → 10 and 33 → 40 are pauses.
    assert shape(result) == [(1, 12, SILENCE), (30, 55, None)]
    assert result.plans[0].speech_s == pytest.approx(4)
    assert result.plans[1].speech_s == pytest.approx(18)
    assert result.cursor == at(60)


def test_silence_exactly_at_the_gap_keeps_the_dialogue() -> None:
    assert shape(chunk(0, speech((1, 3), (15, 50)))) == [(1, 50, None)]
    # The same at the end of a chunk: 48 → 60 is not longer than 12 s.
    assert shape(chunk(0, speech((1, 48)))) == [(1, 48, None)]
    assert shape(chunk(0, speech((1, 47.9)))) == [(1, 47.9, SILENCE)]


def test_a_dialogue_continues_into_the_next_chunk_without_duplicating() -> None:
    first = chunk(0, speech((50, 59.9)))
    [open_] = first.plans
    assert open_.closed is None
    carried = Plan(open_.started_at, open_.ended_at, open_.speech_s, id=uuid.uuid4())

    second = chunk(1, speech((60, 64), (70, 71)), carried, cursor=60)

    [plan] = second.plans
    assert plan is carried and plan.id is not None
    assert [(s.started_at, s.ended_at) for s in plan.added] == [(at(60), at(64)), (at(70), at(71))]
    # 71 → 120 is 49 s of silence: known at the chunk's end, so closed now.
    assert plan.closed == SILENCE
    assert plan.speech_s == pytest.approx(9.9 + 4 + 1)


def test_an_open_dialogue_closes_when_the_next_chunk_is_silent() -> None:
    carried = Plan(at(55), at(59), 4.0, id=uuid.uuid4())
    result = chunk(1, [], carried, cursor=60)
    assert shape(result) == [(55, 59, SILENCE)]


def test_a_hole_in_the_chunks_closes_the_open_dialogue() -> None:
    carried = Plan(at(55), at(59.5), 4.5, id=uuid.uuid4())
    # The device was off from 60 to 180: the chunk at 180 starts a new dialogue.
    result = chunk(3, speech((180.5, 235)), carried, cursor=60)
    assert shape(result) == [(55, 59.5, GAP), (180.5, 235, None)]


def test_a_dialogue_is_cut_at_its_maximum_length() -> None:
    # Talk with short pauses from 0 s on: at 120 s the dialogue is cut.
    [first] = chunk(0, speech((0, 30), (35, 59))).plans
    first.id = uuid.uuid4()
    [second] = chunk(1, speech((60, 100), (105, 119.5)), first, cursor=60).plans
    assert second is first and second.closed is None

    third = chunk(2, speech((119.8, 125), (130, 131)), second, cursor=120)

    assert shape(third) == [(0, 120, MAX_LENGTH), (120, 131, SILENCE)]
    assert third.plans[0].added[-1] == Speech(at(119.8), at(120))
    assert third.plans[1].added == [Speech(at(120), at(125)), Speech(at(130), at(131))]


def test_one_long_speech_is_split_into_maximum_length_dialogues() -> None:
    cfg = DialogueSettings(silence_gap_s=5, max_dialogue_s=20, chunk_gap_s=2)
    result = cut(None, None, at(0), at(60), speech((1, 50)), cfg)
    assert [(p.closed, p.speech_s) for p in result.plans] == [
        (MAX_LENGTH, 20),
        (MAX_LENGTH, 20),
        (SILENCE, 9),  # 50 → 60 is longer than this configuration's 5 s gap
    ]


def test_a_late_chunk_is_cut_on_its_own_and_leaves_the_open_dialogue_alone() -> None:
    carried = Plan(at(600), at(605), 5.0, id=uuid.uuid4())
    result = chunk(2, speech((121, 125), (140, 175)), carried, cursor=660)
    # Its last dialogue ends with the chunk but cannot go on: the next chunk of
    # the device was cut long ago.
    assert shape(result) == [(121, 125, SILENCE), (140, 175, GAP)]
    assert carried.closed is None and carried.added == []
    assert result.cursor == at(660)


def test_the_same_input_gives_the_same_plan() -> None:
    spans = speech((1, 3), (10, 12), (30, 33))
    assert shape(chunk(0, spans)) == shape(chunk(0, list(reversed(spans))))

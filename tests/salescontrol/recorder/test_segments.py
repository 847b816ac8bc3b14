"""The wall-clock start of segments: the run's clock learnt from ffmpeg's cuts,
checked with numbers and against PCM fed to the real ffmpeg at a known pace, with
and without ffmpeg falling behind; and the segment list read as it grows."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from salescontrol.recorder.segments import RunClock, SegmentList
from tests.salescontrol.recorder.conftest import needs_ffmpeg
from tests.support.recorder import record_paced_pcm

S = 1_000_000
B = 1_796_400_000 * S  # a boundary: a multiple of 60 s since the epoch


def test_segments_are_placed_by_stream_time_on_the_earliest_origin() -> None:
    clock = RunClock(60)
    # Segment 0 listed 0-17.78 s, closed 41 ms after B: the run began at B - 17.78 s
    # at the latest.
    assert clock.cut(B + 41_000, 17_780_000) == B
    assert clock.start(0) == B - 17_780_000
    assert clock.start(17_780_000) == B
    # The next cut, at stream 77.8 s, was written 20 ms closer to its audio: a
    # better (earlier) origin, used from then on.
    assert clock.cut(B + 60 * S + 12_000, 77_800_000) == B + 60 * S
    assert clock.origin_us == B - 17_800_000
    assert clock.start(77_800_000) == B + 60 * S


def test_a_late_cut_does_not_move_the_clock() -> None:
    clock = RunClock(60)
    clock.cut(B + 30_000, 17_780_000)  # origin B - 17.78 s
    # ffmpeg was a second behind at B + 60 s: it cut at stream 76.78 s, on audio
    # captured at B + 59 s. That estimate of the origin is a second late: ignored.
    assert clock.cut(B + 60 * S + 25_000, 76_780_000) == B + 60 * S
    assert clock.origin_us == B - 17_780_000
    assert clock.start(76_780_000) == B + 59 * S


def test_a_close_stamped_just_before_its_boundary_still_counts_as_after_it() -> None:
    # Cut 1 ms after B; the kernel's coarse clock stamped the file 3 ms before B.
    # Read as the previous boundary, the origin would be a whole chunk early.
    clock = RunClock(60)
    assert clock.cut(B - 3_000, 17_780_000) == B
    assert clock.origin_us == B - 17_780_000


def test_no_origin_before_ffmpeg_was_started() -> None:
    clock = RunClock(60, not_before_us=B - 20 * S)
    clock.cut(B + 30_000, 17_780_000)
    clock.cut(B + 30_000, 77_780_000)  # an estimate from before the start: ignored
    assert clock.origin_us == B - 17_780_000


def test_without_any_cut_there_is_no_clock() -> None:
    assert RunClock(60).start(5 * S) is None


def test_the_list_is_read_line_by_line_as_it_grows(tmp_path: Path) -> None:
    path = tmp_path / "run-0000000005.csv"
    listing = SegmentList(path)
    assert listing.read_new() == []  # not there yet
    path.write_text("0000000005.opus,0.000000,1.780000\n0000000006.opus,1.78")
    assert [(e.seq, e.start_us, e.end_us) for e in listing.read_new()] == [(5, 0, 1_780_000)]
    with path.open("a") as more:
        more.write("0000,3.760000\n")
    assert [(e.seq, e.duration_us) for e in listing.read_new()] == [(6, 1_980_000)]
    assert listing.read_new() == []


@needs_ffmpeg
@pytest.mark.slow
@pytest.mark.parametrize("stall_s", [0.0, 0.8], ids=["keeping-up", "a-stall-across-a-boundary"])
async def test_starts_match_when_the_first_sample_was_captured(
    tmp_path: Path, stall_s: float
) -> None:
    dated = await record_paced_pcm(tmp_path, block=320, seconds=7, stall_s=stall_s)
    assert len(dated) >= 3
    for chunk in dated:
        # Late by up to one 20 ms input block and one Opus frame, never early.
        assert -5_000 <= chunk.start_us - chunk.true_us <= 60_000, chunk
    for before, after in pairwise(dated):
        assert abs(before.start_us + round(before.duration_s * S) - after.start_us) <= 20_000

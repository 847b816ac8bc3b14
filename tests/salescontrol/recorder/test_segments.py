"""The wall-clock start of a segment from the clock alignment, and the segment
list read line by line as ffmpeg appends it."""

from __future__ import annotations

from pathlib import Path

from salescontrol.recorder.segments import SegmentList, chunk_start_us

S = 1_000_000
B = 1_796_400_000 * S  # a boundary: a multiple of 60 s since the epoch


def test_a_later_segment_starts_on_its_boundary() -> None:
    # Closed 30 ms after the next boundary, 20 ms longer than chunk_s: still B.
    start = chunk_start_us(
        index_in_run=3, duration_us=60 * S + 20_000, closed_at_us=B + 60 * S + 30_000,
        chunk_us=60 * S, cut=True,
    )  # fmt: skip
    assert start == B


def test_the_last_segment_of_a_run_starts_on_its_boundary() -> None:
    # Stopped 17.3 s into the chunk; closed a few ms after its last packet.
    start = chunk_start_us(
        index_in_run=2, duration_us=17_300_000, closed_at_us=B + 17_340_000,
        chunk_us=60 * S, cut=False,
    )  # fmt: skip
    assert start == B


def test_the_first_segment_ends_on_the_boundary_it_was_cut_at() -> None:
    start = chunk_start_us(
        index_in_run=0, duration_us=1_780_000, closed_at_us=B + 41_000, chunk_us=60 * S, cut=True
    )
    assert start == B - 1_780_000


def test_a_run_stopped_within_its_first_segment() -> None:
    start = chunk_start_us(
        index_in_run=0, duration_us=5_000_000, closed_at_us=B + 7 * S, chunk_us=60 * S, cut=False
    )
    assert start == B + 2 * S


def test_the_list_is_read_line_by_line_as_it_grows(tmp_path: Path) -> None:
    path = tmp_path / "run-0000000005.csv"
    listing = SegmentList(path)
    assert listing.read_new() == []  # not there yet
    path.write_text("0000000005.opus,0.000000,1.780000\n0000000006.opus,1.78")
    first = listing.read_new()
    assert [(e.seq, e.duration_us) for e in first] == [(5, 1_780_000)]
    with path.open("a") as more:
        more.write("0000,3.760000\n")
    assert [(e.seq, e.duration_us) for e in listing.read_new()] == [(6, 1_980_000)]
    assert listing.read_new() == []

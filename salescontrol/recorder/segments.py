"""ffmpeg's segment list, and the wall-clock start of each segment.

ffmpeg's segment muxer (`-segment_atclocktime 1`) cuts at the first packet it
writes once the time of day has crossed a multiple of `chunk_s`; the agent runs
it with TZ=UTC, and `chunk_s` divides a day, so the cut points are multiples of
`chunk_s` since the epoch. When it closes a segment it writes the file's trailer,
closes it, and only then appends the file's line (name, start, end in stream
seconds) to the CSV list: a segment is complete when, and only when, its line is
there. A run (one ffmpeg process) therefore yields:

- segment 0: from ffmpeg's start to the first boundary B1 (0.1-`chunk_s` long);
- segments 1..n-1: from one boundary to the next;
- the last one: from a boundary to the stop (or a crash), unless the run ended
  within segment 0.

The start of each, in integer microseconds since the epoch, comes from the clock
alignment and the moment the file was closed (its mtime, written by ffmpeg's
final write; a rename keeps it), not from the agent's own timing, so a busy or
restarted agent computes the same starts:

- a segment after the first of its run started on a boundary: the multiple of
  `chunk_s` nearest to (closed_at - duration);
- the first segment, when ffmpeg cut it: the boundary just before its close
  (floor(closed_at)) minus its listed duration;
- the first segment of a run that ended before any cut: closed_at - duration.

Accuracy, measured with ffmpeg 5.1 on this project's machine (`python -m
bench.recorder`, "timing": a feeder writes PCM into ffmpeg in real time, so the
true wall-clock instant of every sample is known; four runs of 11 s each):

- ffmpeg closes a segment 5-55 ms after the boundary, so the boundary is found
  without ambiguity (that would take a delay of chunk_s/2);
- the computed start is late, never early: the first sample of a segment was
  captured 5-35 ms before it with 20 ms input blocks (a microphone's ALSA
  periods), 21-81 ms with 64 ms blocks (lavfi's default). The cut falls on the
  first packet written after the boundary, and that packet carries audio from
  up to one input block plus one 20 ms Opus frame earlier. Within a run the
  error is a bias, not a drift: every segment is placed on its own boundary, so
  a microphone's sample clock running fast or slow, or an NTP step, does not
  accumulate;
- consecutive chunks meet to within one input block: start + duration = the
  next start to 0-20 ms with 20 ms blocks (the tests allow 60 ms).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from salescontrol.recorder.spool import parse_seq


@dataclass(frozen=True)
class Listed:
    """A line of the segment list: a segment ffmpeg has closed."""

    seq: int
    name: str
    duration_us: int


def parse_line(line: str) -> Listed | None:
    fields = next(csv.reader([line]), [])
    if len(fields) != 3:
        return None
    name, start, end = fields
    seq = parse_seq(name)
    if seq is None:
        return None
    return Listed(seq, name, round((float(end) - float(start)) * 1_000_000))


class SegmentList:
    """Reads the lines ffmpeg appends to a run's CSV list, each line once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read_new(self) -> list[Listed]:
        try:
            with open(self.path, "rb") as source:
                source.seek(self._offset)
                data = source.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        # A line without its newline is still being written.
        *lines, self._partial = (self._partial + data).split(b"\n")
        parsed = (parse_line(raw.decode("utf-8", "replace")) for raw in lines if raw.strip())
        return [entry for entry in parsed if entry is not None]


def chunk_start_us(
    *, index_in_run: int, duration_us: int, closed_at_us: int, chunk_us: int, cut: bool
) -> int:
    """The wall-clock start of a segment (see the module's docstring)."""
    if index_in_run > 0:
        estimate = closed_at_us - duration_us
        return (estimate + chunk_us // 2) // chunk_us * chunk_us
    if cut:
        return closed_at_us // chunk_us * chunk_us - duration_us
    return closed_at_us - duration_us

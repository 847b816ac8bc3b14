"""ffmpeg's segment list, and the wall-clock start of each segment.

ffmpeg's segment muxer (`-segment_atclocktime 1`) cuts at the first packet it
writes once the time of day has crossed a multiple of `chunk_s`; the agent runs
it with TZ=UTC, and `chunk_s` divides a day, so the cut points are multiples of
`chunk_s` since the epoch. When it cuts, it writes the closed file's trailer,
closes it, and only then appends the file's line to the CSV list: name, start
and end in the run's stream time (seconds since its first sample). A segment is
complete when, and only when, its line is there. A run (one ffmpeg process)
yields segment 0 (from the start to the first boundary: 0.02 s to `chunk_s`),
then one segment per boundary, then the last one (to the stop or a crash).

The method, and why. Each cut tells where a boundary B fell in stream time s:
B is the multiple of `chunk_s` just before the closed file's mtime (ffmpeg's
last write to it happens at the cut, 0-55 ms after B, and a rename keeps the
mtime; read with `CLOSE_SLACK_US`, as the mtime's clock may lag a tick behind),
and s is the next segment's listed start. So every cut gives an estimate of the
run's origin, the wall-clock instant of its stream time 0: B - s. Each estimate
is late by ffmpeg's delay at that cut: the first packet written after B carries
audio from up to one input block and one Opus frame before it, and more when
ffmpeg has fallen behind (ALSA buffers the audio meanwhile, and ffmpeg's ALSA
input stamps it from the wall clock and the buffer's fill, so stream time stays
wall time). Hence the origin is the smallest estimate so far, and a segment
starts at origin + its listed start. A run that ended before any cut starts at
its file's mtime minus its duration.

What was measured first, and rejected: dating every segment after the first by
its boundary, as the clock alignment alone suggests. ffmpeg does cut on the
boundaries, but the audio of such a segment began 5-89 ms earlier, depending on
the input block, and a second earlier in a capture test run beside three busy
loops on two cores: ffmpeg was a second behind at a boundary and cut there on a
packet of audio from a second before it. So chunks start near, not on, the
minute (e.g. 10:41:59.974), and follow each other without a seam.

Accuracy (`python -m bench.recorder`, "timing": a feeder thread writes PCM into
ffmpeg in real time, so the true instant of every sample is known; ffmpeg runs
with the agent's own output options and this module dates the segments as they
close; three runs of 11 s, 2 s chunks, each case):

    input blocks            computed start - true start     seams
    20 ms (ALSA periods)    +1 to +38 ms                    0 ms
    20 ms, a 0.8 s stall    +1 to +33 ms                    0 ms
    64 ms (lavfi default)   +3 to +60 ms, less as it runs   0-40 ms

Late, never early: the origin only moves earlier as better cuts come in, which
is also when two chunks may overlap by the improvement (a few tens of ms).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from salescontrol.recorder.spool import parse_seq

# A file's mtime comes from the kernel's coarse clock, which lags the clock
# ffmpeg cuts by (gettimeofday) by up to a tick (4 ms at the Pi's HZ=250): a
# segment cut 1 ms after a boundary can read as closed 3 ms before it.
CLOSE_SLACK_US = 50_000


@dataclass(frozen=True)
class Listed:
    """A line of the segment list: a segment ffmpeg has closed."""

    seq: int
    name: str
    start_us: int
    end_us: int
    """Stream time of its first sample and of its end, since the run's first sample."""

    @property
    def duration_us(self) -> int:
        return self.end_us - self.start_us


def parse_line(line: str) -> Listed | None:
    fields = next(csv.reader([line]), [])
    if len(fields) != 3:
        return None
    name, start, end = fields
    seq = parse_seq(name)
    if seq is None:
        return None
    return Listed(seq, name, round(float(start) * 1_000_000), round(float(end) * 1_000_000))


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


class RunClock:
    """Wall-clock time of a run's stream time, learnt from its cuts."""

    def __init__(self, chunk_s: int, not_before_us: int | None = None) -> None:
        self.chunk_us = chunk_s * 1_000_000
        self.origin_us: int | None = None
        # When ffmpeg was started: no audio of the run is older.
        self.not_before_us = not_before_us

    def boundary(self, closed_at_us: int) -> int:
        """The boundary at which a file closed at `closed_at_us` was cut."""
        return (closed_at_us + CLOSE_SLACK_US) // self.chunk_us * self.chunk_us

    def cut(self, closed_at_us: int, stream_us: int) -> int:
        """ffmpeg cut at stream time `stream_us` and closed the previous file at
        `closed_at_us`; returns the boundary."""
        boundary = self.boundary(closed_at_us)
        estimate = boundary - stream_us
        if self.not_before_us is not None and estimate < self.not_before_us:
            return boundary  # impossible (a clock step?): an early origin would stick
        self.origin_us = estimate if self.origin_us is None else min(self.origin_us, estimate)
        return boundary

    def start(self, stream_us: int) -> int | None:
        """The wall-clock instant of stream time `stream_us`."""
        return None if self.origin_us is None else self.origin_us + stream_us

"""Closed segments become chunks: measured, dated, hashed and put in the outbox.

A `Run` follows one ffmpeg process through its segment list. A listed segment is
complete; once ffmpeg has exited, the one file it left unlisted (it was killed,
or it died) is probed: with audio in it (ffprobe reads a duration > 0) it becomes
a short chunk, with only its headers or nothing it is removed, with a log line.
`recover_leftovers` does the same, before each new run, for what a crash of
ffmpeg or of the agent left in recording/.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from salescontrol.recorder.chunk import ChunkMeta
from salescontrol.recorder.command import list_name
from salescontrol.recorder.probe import probe_duration
from salescontrol.recorder.segments import Listed, RunClock, SegmentList
from salescontrol.recorder.spool import AUDIO, STATES, Spool
from salescontrol.recorder.times import from_epoch_us, rfc3339

log = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


# Where a segment starts, given its file's close (mtime, µs) and its duration (µs).
Placer = Callable[[int, int], int]


class Completer:
    """Turns one closed segment file into a chunk in the outbox."""

    def __init__(
        self,
        spool: Spool,
        chunk_s: int,
        *,
        ffprobe: str = "ffprobe",
        on_chunk: Callable[[ChunkMeta], None] | None = None,
    ) -> None:
        self.spool = spool
        self.chunk_s = chunk_s
        self.ffprobe = ffprobe
        self.on_chunk = on_chunk

    def exists_anywhere(self, seq: int) -> bool:
        return self.closed_at_us(seq) is not None

    def closed_at_us(self, seq: int) -> int | None:
        """When ffmpeg closed a segment's file: its mtime, wherever it is now."""
        for state in ("recording", *STATES):
            try:
                return self.spool.audio(state, seq).stat().st_mtime_ns // 1000
            except FileNotFoundError:
                continue
        return None

    async def complete(
        self, seq: int, place: Placer, listed_duration_us: int | None = None
    ) -> ChunkMeta | None:
        path = self.spool.audio("recording", seq)
        try:
            closed_at_us = path.stat().st_mtime_ns // 1000
        except FileNotFoundError:
            return None  # completed before a restart of the agent
        duration_s = await probe_duration(path, self.ffprobe)
        if duration_s is None:
            path.unlink(missing_ok=True)
            log.warning(
                "segment without audio removed", extra={"seq": seq, "listed": listed_duration_us}
            )
            return None
        start_us = place(closed_at_us, listed_duration_us or round(duration_s * 1_000_000))
        size = path.stat().st_size
        sha = await asyncio.to_thread(_sha256, path)
        meta = ChunkMeta.new(seq, from_epoch_us(start_us), duration_s, size, sha)
        await asyncio.to_thread(self.spool.admit, path, meta)
        log.info(
            "chunk recorded",
            extra={
                "seq": seq,
                "chunk_id": meta.id,
                "start": rfc3339(meta.start),
                "duration_s": round(duration_s, 3),
                "size_bytes": size,
                "listed": listed_duration_us is not None,
            },
        )
        if self.on_chunk is not None:
            self.on_chunk(meta)
        return meta


class Run:
    """One ffmpeg process: its first sequence number, its segment list, its clock.

    Each segment is dated with every cut known by then: the one it began at and,
    once its line is there, the one it ended at. The first segment of a run also
    waits for the run's second cut (one chunk later), so that ffmpeg lagging at
    its first boundary, the likeliest moment (it has just started), does not date
    the start of the run late; see segments.py.
    """

    def __init__(
        self,
        completer: Completer,
        start_seq: int,
        end_seq: int | None = None,
        started_at_us: int | None = None,
    ) -> None:
        self.completer = completer
        self.spool = completer.spool
        self.start_seq = start_seq
        self.end_seq = end_seq  # the next run's first number, for leftovers
        self.list_path = self.spool.recording / list_name(start_seq)
        self.clock = RunClock(completer.chunk_s, not_before_us=started_at_us)
        self._list = SegmentList(self.list_path)
        self._pending: list[Listed] = []
        self._previous: Listed | None = None  # the last listed segment dated
        self._previous_closed_us: int | None = None

    def _learn_end(self, index: int) -> None:
        """The cut that ended the pending segment at `index`, if it ended in one
        (ffmpeg opens the next file right after listing a segment it cut)."""
        entry = self._pending[index]
        if not (len(self._pending) > index + 1 or self.completer.exists_anywhere(entry.seq + 1)):
            return
        closed_at = self.completer.closed_at_us(entry.seq)
        if closed_at is not None:
            self.clock.cut(closed_at, entry.end_us)

    def _placer(self, stream_us: int, *, first: bool) -> Placer:
        if not first and self._previous_closed_us is not None:
            self.clock.cut(self._previous_closed_us, stream_us)
        clock = self.clock

        def place(closed_at_us: int, duration_us: int) -> int:
            start = clock.start(stream_us)
            if start is not None:
                return start
            if first:
                return closed_at_us - duration_us  # the run ended before any boundary
            # No cut known (its file is gone): the boundary nearest its own start.
            return clock.boundary(closed_at_us - duration_us + clock.chunk_us // 2)

        return place

    async def collect(self, *, exited: bool) -> int:
        """Date and complete every listed segment that can be; how many were."""
        self._pending += self._list.read_new()
        done = 0
        while self._pending:
            entry = self._pending[0]
            first = self._previous is None
            if first and len(self._pending) < 2 and not exited:
                break  # wait for the run's second cut
            self._learn_end(0)
            if first and len(self._pending) > 1:
                self._learn_end(1)
            place = self._placer(entry.start_us, first=first)
            await self.completer.complete(entry.seq, place, entry.duration_us)
            self._previous = self._pending.pop(0)
            self._previous_closed_us = self.completer.closed_at_us(entry.seq)
            done += 1
        return done

    async def finish(self) -> None:
        """After ffmpeg's exit: the rest of the list, then the unlisted file."""
        await self.collect(exited=True)
        for seq in self.spool.seqs("recording", AUDIO):
            if seq < self.start_seq or (self.end_seq is not None and seq >= self.end_seq):
                continue
            log.info("segment left unlisted by ffmpeg", extra={"seq": seq})
            previous = self._previous
            place = self._placer(previous.end_us if previous else 0, first=previous is None)
            await self.completer.complete(seq, place)
        self.list_path.unlink(missing_ok=True)


async def recover_leftovers(completer: Completer) -> None:
    """Finish the runs an earlier agent process left in recording/."""
    spool = completer.spool
    starts = sorted(
        int(path.name[4:-4])
        for path in spool.recording.glob("run-*.csv")
        if path.name[4:-4].isdigit()
    )
    audio = spool.seqs("recording", AUDIO)
    if audio and (not starts or audio[0] < starts[0]):
        starts.insert(0, audio[0])  # files without a list: a run whose list was lost
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else None
        await Run(completer, start, end).finish()

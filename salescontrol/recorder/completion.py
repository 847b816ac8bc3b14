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
from salescontrol.recorder.segments import SegmentList, chunk_start_us
from salescontrol.recorder.spool import AUDIO, STATES, Spool
from salescontrol.recorder.times import from_epoch_us, rfc3339

log = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


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
        self.chunk_us = chunk_s * 1_000_000
        self.ffprobe = ffprobe
        self.on_chunk = on_chunk

    def exists_anywhere(self, seq: int) -> bool:
        return any(self.spool.audio(state, seq).exists() for state in ("recording", *STATES))

    async def complete(
        self, seq: int, *, index_in_run: int, listed_duration_us: int | None, cut: bool
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
        duration_us = listed_duration_us or round(duration_s * 1_000_000)
        start_us = chunk_start_us(
            index_in_run=index_in_run,
            duration_us=duration_us,
            closed_at_us=closed_at_us,
            chunk_us=self.chunk_us,
            cut=cut,
        )
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
    """One ffmpeg process: its first sequence number and its segment list."""

    def __init__(self, completer: Completer, start_seq: int, end_seq: int | None = None) -> None:
        self.completer = completer
        self.spool = completer.spool
        self.start_seq = start_seq
        self.end_seq = end_seq  # the next run's first number, for leftovers
        self.list_path = self.spool.recording / list_name(start_seq)
        self._list = SegmentList(self.list_path)
        self._pending: list[tuple[int, int]] = []  # listed (seq, duration_us) not yet done

    async def collect(self, *, exited: bool) -> int:
        """Complete every listed segment that can be; returns how many were."""
        self._pending += [(entry.seq, entry.duration_us) for entry in self._list.read_new()]
        done = 0
        while self._pending:
            seq, duration_us = self._pending[0]
            index = seq - self.start_seq
            # Whether segment 0 ended at a boundary: ffmpeg opens the next file
            # right after listing it; only after its exit is "no next file" final.
            cut = self.completer.exists_anywhere(seq + 1) or len(self._pending) > 1
            if index == 0 and not cut and not exited:
                break
            await self.completer.complete(
                seq, index_in_run=index, listed_duration_us=duration_us, cut=cut
            )
            self._pending.pop(0)
            done += 1
        return done

    async def finish(self) -> None:
        """After ffmpeg's exit: the rest of the list, then the unlisted file."""
        await self.collect(exited=True)
        for seq in self.spool.seqs("recording", AUDIO):
            if seq < self.start_seq or (self.end_seq is not None and seq >= self.end_seq):
                continue
            log.info("segment left unlisted by ffmpeg", extra={"seq": seq})
            await self.completer.complete(
                seq, index_in_run=seq - self.start_seq, listed_duration_us=None, cut=False
            )
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

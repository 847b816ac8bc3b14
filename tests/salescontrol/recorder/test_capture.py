"""Capture with the real ffmpeg: clock-aligned chunks with measured durations and
UTC starts, the last segment after a stop or a crash, numbering across restarts,
and what a crashed run left behind."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from datetime import UTC, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from salescontrol.recorder.capture import Capture
from salescontrol.recorder.chunk import ChunkMeta
from salescontrol.recorder.completion import Completer, recover_leftovers
from salescontrol.recorder.config import Config
from salescontrol.recorder.spool import Spool
from salescontrol.recorder.status import Status
from salescontrol.recorder.times import EPOCH
from tests.salescontrol.recorder.conftest import eventually, needs_ffmpeg
from tests.support.recorder import encode_chunks

pytestmark = needs_ffmpeg


class Recorder:
    """A capture task over a spool, as the agent runs it, without the rest."""

    def __init__(self, config: Config, **options: Any) -> None:
        self.spool = Spool(config.spool.dir)
        self.spool.prepare()
        self.status = Status("test")
        self.completer = Completer(self.spool, config.recording.chunk_s)
        self.capture = Capture(config.recording, self.spool, self.status, self.completer, **options)
        self.task: asyncio.Task[None] | None = None

    async def record(self, seconds: float) -> None:
        self.task = self.task or asyncio.create_task(self.capture.run())
        self.capture.want(True)
        await asyncio.sleep(seconds)
        self.capture.want(False)
        await eventually(lambda: self.capture.proc is None, 20, "ffmpeg to stop")

    async def close(self) -> None:
        await self.capture.close()
        if self.task is not None:
            await asyncio.wait_for(self.task, 20)

    def outbox(self) -> list[ChunkMeta]:
        return [self.spool.load("outbox", seq) for seq in self.spool.seqs("outbox")]


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
async def test_chunks_are_clock_aligned_consecutive_measured_and_utc(
    config_for: Callable[..., Config],
) -> None:
    recorder = Recorder(config_for())
    await recorder.record(7)
    await recorder.close()
    chunks = recorder.outbox()
    # 7 s at chunk_s 2: a short first chunk, 2-3 whole ones, the last cut by the stop.
    assert 4 <= len(chunks) <= 5
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.start.tzinfo is UTC
        audio = recorder.spool.audio("outbox", chunk.seq)
        assert chunk.size_bytes == audio.stat().st_size
        assert chunk.sha256 == file_sha(audio)
        assert 0 < chunk.duration_s <= 2.06
    # Cut on the clock: each later chunk begins within 0.1 s before a 2 s boundary.
    for chunk in chunks[1:]:
        assert (
            timedelta(0) <= -(chunk.start - EPOCH) % timedelta(seconds=2) < timedelta(seconds=0.1)
        )
    for before, after in pairwise(chunks):
        end = before.start + timedelta(seconds=before.duration_s)
        assert abs((after.start - end).total_seconds()) < 0.06, (before, after)
    for whole in chunks[1:-1]:
        assert abs(whole.duration_s - 2) < 0.06
    # The stop closed and listed the last segment: nothing is left behind.
    assert list(recorder.spool.recording.iterdir()) == []


@pytest.mark.slow
async def test_numbers_continue_across_restarts_and_nothing_is_overwritten(
    config_for: Callable[..., Config],
) -> None:
    recorder = Recorder(config_for())
    await recorder.record(2.5)
    first = recorder.outbox()
    assert first
    kept = first[-1]
    kept_sha = file_sha(recorder.spool.audio("outbox", kept.seq))
    # The others were sent and then deleted by the janitor: their numbers are gone
    # from the disk, and must still not come back.
    for chunk in first[:-1]:
        recorder.spool.move(chunk.seq, "outbox", "sent")
        recorder.spool.delete_sent(chunk.seq)
    await recorder.record(2.5)
    await recorder.close()
    second = [c for c in recorder.outbox() if c.id != kept.id]
    assert second and min(c.seq for c in second) == kept.seq + 1
    assert file_sha(recorder.spool.audio("outbox", kept.seq)) == kept_sha
    assert recorder.spool.load("outbox", kept.seq).id == kept.id
    # Everything moved out of recording/ and the next number is remembered.
    assert recorder.spool.next_seq() == max(c.seq for c in second) + 1


@pytest.mark.slow
async def test_a_killed_ffmpeg_leaves_a_short_chunk_and_is_restarted(
    config_for: Callable[..., Config],
) -> None:
    recorder = Recorder(config_for(recording={"chunk_s": 4}), restart_initial_s=0.2, stable_s=1.0)
    recorder.task = asyncio.create_task(recorder.capture.run())
    recorder.capture.want(True)
    await eventually(lambda: recorder.capture.proc is not None, 10, "ffmpeg to start")
    proc = recorder.capture.proc
    assert proc is not None

    def current_has_audio() -> bool:
        seqs = recorder.spool.seqs("recording", ".opus")
        # Beyond its two header pages: ffmpeg has flushed at least one audio page.
        return bool(seqs) and recorder.spool.audio("recording", seqs[-1]).stat().st_size > 400

    await eventually(current_has_audio, 10, "an audio page in the current segment")
    killed_seq = recorder.spool.seqs("recording", ".opus")[-1]
    os.kill(proc.pid, signal.SIGKILL)
    await eventually(
        lambda: recorder.capture.proc not in (None, proc), 10, "ffmpeg to be restarted"
    )
    assert recorder.status.health()["ffmpeg_restarts"] == 1
    assert any("ffmpeg exited with status -9" in e for e in recorder.status.health()["errors"])
    await eventually(lambda: recorder.status.state() == "recording", 5, "the state to recover")
    recorder.capture.want(False)
    await recorder.close()
    killed = recorder.spool.load("outbox", killed_seq)
    # Completed from the unlisted file, up to its last flushed page.
    assert 0 < killed.duration_s < 4
    later = [c for c in recorder.outbox() if c.seq > killed_seq]
    assert later and later[0].start > killed.start


def ogg_headers_only(data: bytes) -> bytes:
    """The first two Ogg pages (OpusHead, OpusTags): a segment with no audio yet."""
    third_page = data.index(b"OggS", data.index(b"OggS", 4) + 4)
    return data[:third_page]


async def test_leftovers_of_a_crashed_run_are_completed_or_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path / "spool")
    spool.prepare()
    made = encode_chunks(tmp_path / "made", 2, 2)
    # Run 10: segment 10 listed, 11 unlisted and cut off mid-page by the crash.
    shutil.copy(made[0], spool.audio("recording", 10))
    partial = made[1].read_bytes()
    spool.audio("recording", 11).write_bytes(partial[: len(partial) * 2 // 3])
    (spool.recording / "run-0000000010.csv").write_text("0000000010.opus,0.000000,2.000000\n")
    # Run 20: killed right after opening its first file (headers only), and an
    # empty file of a run whose list is gone.
    spool.audio("recording", 20).write_bytes(ogg_headers_only(made[0].read_bytes()))
    (spool.recording / "run-0000000020.csv").write_text("")
    spool.audio("recording", 30).write_bytes(b"")
    completed: list[ChunkMeta] = []
    with caplog.at_level(logging.INFO):
        await recover_leftovers(Completer(spool, 2, on_chunk=completed.append))
    assert [c.seq for c in completed] == [10, 11]
    assert abs(completed[0].duration_s - 2) < 0.001
    assert 0 < completed[1].duration_s < 2
    assert spool.seqs("outbox") == [10, 11]
    assert list(spool.recording.iterdir()) == []
    removed = [r for r in caplog.records if r.getMessage() == "segment without audio removed"]
    assert sorted(r.seq for r in removed) == [20, 30]  # type: ignore[attr-defined]
    # The completed partial is a valid Ogg Opus file that ffprobe reads.
    probe = subprocess.run(
        ["ffprobe", "-v", "error", str(spool.audio("outbox", 11))], capture_output=True
    )
    assert probe.returncode == 0

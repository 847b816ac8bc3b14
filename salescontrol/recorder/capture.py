"""Keeps ffmpeg recording while recording is wanted, and restarts it when it dies.

The agent says whether recording is wanted (`want`); this task starts ffmpeg,
follows its segment list, and stops it with SIGTERM when recording is no longer
wanted, which makes ffmpeg close and list the current segment (a short chunk).
An exit nobody asked for (the microphone unplugged, a crash) is restarted after
an exponential backoff, and the state is "ffmpeg failing" until a restarted
ffmpeg has run for `stable_s`. An ffmpeg whose output stops growing (a hung
device) is killed and restarted the same way. Sequence numbers continue from
the spool (`Spool.next_seq`), so a restart never reuses a file name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time

from salescontrol.recorder.command import ffmpeg_command
from salescontrol.recorder.completion import Completer, Run, recover_leftovers
from salescontrol.recorder.config import RecordingConfig
from salescontrol.recorder.spool import AUDIO, Spool
from salescontrol.recorder.status import Status

log = logging.getLogger(__name__)

STDERR_LINES_LOGGED = 20


class Capture:
    def __init__(
        self,
        rec: RecordingConfig,
        spool: Spool,
        status: Status,
        completer: Completer,
        *,
        ffmpeg: str = "ffmpeg",
        poll_s: float = 0.25,
        restart_initial_s: float = 1.0,
        restart_max_s: float = 60.0,
        stable_s: float = 5.0,
        stall_s: float = 30.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.rec = rec
        self.spool = spool
        self.status = status
        self.completer = completer
        self.ffmpeg = ffmpeg
        self.poll_s = poll_s
        self.restart_initial_s = restart_initial_s
        self.restart_max_s = restart_max_s
        self.stable_s = stable_s
        self.stall_s = stall_s
        self.stop_timeout_s = stop_timeout_s
        self.proc: asyncio.subprocess.Process | None = None
        self._wanted = False
        self._closing = False
        self._changed = asyncio.Event()
        self._failures = 0

    def want(self, wanted: bool) -> None:
        if wanted != self._wanted:
            self._wanted = wanted
            self._changed.set()

    async def close(self) -> None:
        """Stop ffmpeg (its last segment becomes a chunk); `run` then returns."""
        self._closing = True
        self._changed.set()

    async def run(self) -> None:
        while not self._closing:
            if not self._wanted:
                self._changed.clear()
                await self._changed.wait()
                continue
            try:
                # What an earlier run (or agent) left unfinished comes first.
                await recover_leftovers(self.completer)
                expected = await self._run_once()
            except OSError as exc:
                # The spool's disk failing (full, read-only): retried like a crash.
                self.status.error(f"capture: {exc}")
                log.error("capture failed", extra={"error": str(exc)})
                expected = False
            if expected or self._closing:
                continue
            self._failures += 1
            self.status.ffmpeg_failing(True)
            self.status.ffmpeg_restarted()
            delay = min(self.restart_max_s, self.restart_initial_s * 2 ** (self._failures - 1))
            log.warning("ffmpeg will be restarted", extra={"in_s": delay})
            # Interrupted by a change of plan (out of hours, disk full, shutdown).
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), delay)

    async def _run_once(self) -> bool:
        """One ffmpeg process, start to finish; True when it stopped because asked to."""
        start_seq = await asyncio.to_thread(self.spool.next_seq)
        await asyncio.to_thread(self.spool.remember_seq, start_seq)
        run = Run(self.completer, start_seq, started_at_us=time.time_ns() // 1000)
        cmd = ffmpeg_command(self.rec, start_seq, self.ffmpeg)
        try:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                cwd=self.spool.recording,
                # Cut times follow the time of day in ffmpeg's zone: UTC makes them
                # multiples of chunk_s since the epoch whatever the Pi's zone.
                env={**os.environ, "TZ": "UTC"},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            self.status.error(f"ffmpeg cannot start: {exc}")
            log.error("ffmpeg cannot start", extra={"error": str(exc)})
            return False
        self.proc = proc
        self.status.ffmpeg_running(proc.pid)
        log.info("ffmpeg started", extra={"pid": proc.pid, "first_seq": start_seq})
        last_lines: list[str] = []
        reader = asyncio.create_task(self._read_stderr(proc, last_lines))
        asked = False
        started = time.monotonic()
        growth = (-1, -1, time.monotonic())  # (seq, size) of the newest file, when it changed
        try:
            while proc.returncode is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(proc.wait()), self.poll_s)
                await run.collect(exited=False)
                if self._failures and time.monotonic() - started >= self.stable_s:
                    self._failures = 0
                    self.status.ffmpeg_failing(False)
                if not self._wanted or self._closing:
                    asked = True
                    await self._stop(proc)
                    break
                growth = self._check_growth(growth)
                if time.monotonic() - growth[2] > self.stall_s:
                    message = f"ffmpeg wrote nothing for {self.stall_s:.0f} s: killed"
                    self.status.error(message)
                    log.error(message)
                    await self._stop(proc)
        finally:
            if proc.returncode is None:
                await self._stop(proc)
            await reader
            self.status.ffmpeg_running(None)
            await run.finish()
            self.proc = None  # only now: its last segment is a chunk too
        if not asked:
            detail = last_lines[-1] if last_lines else "no message"
            message = f"ffmpeg exited with status {proc.returncode}: {detail}"
            self.status.error(message)
            log.error("ffmpeg exited", extra={"status": proc.returncode, "last": detail})
        else:
            self.status.ffmpeg_failing(False)
            log.info("ffmpeg stopped", extra={"status": proc.returncode})
        return asked

    def _check_growth(self, last: tuple[int, int, float]) -> tuple[int, int, float]:
        seqs = self.spool.seqs("recording", AUDIO)
        if not seqs:
            return last
        try:
            size = self.spool.audio("recording", seqs[-1]).stat().st_size
        except FileNotFoundError:
            return last
        if (seqs[-1], size) != last[:2]:
            return (seqs[-1], size, time.monotonic())
        return last

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        """SIGTERM: ffmpeg writes the trailer and lists the segment; SIGKILL if it hangs."""
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self.stop_timeout_s)
        except TimeoutError:
            log.error("ffmpeg ignored SIGTERM: killed", extra={"pid": proc.pid})
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def _read_stderr(self, proc: asyncio.subprocess.Process, last: list[str]) -> None:
        assert proc.stderr is not None
        logged = 0
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            last[:] = [*last[-4:], line]
            logged += 1
            # A broken input can repeat one warning many times a second.
            if logged <= STDERR_LINES_LOGGED:
                log.warning("ffmpeg: %s", line)
            elif logged == STDERR_LINES_LOGGED + 1:
                log.warning("ffmpeg: further messages of this run are not logged")

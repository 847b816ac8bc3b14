"""What the agent is doing, for the local health endpoint and the heartbeat.

The components report into one `Status` from the event loop; the health server
reads it from its own thread, hence the lock. The state is derived in one place:

    recording       ffmpeg is running within the recording hours
    idle            outside the recording hours (reason "outside hours")
    disk_full       unsent audio has used the disk budget (reason "disk full")
    ffmpeg_failing  ffmpeg exits and is being restarted (reason "ffmpeg failing")
    starting        recording is wanted and ffmpeg is being started
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from salescontrol.recorder.chunk import ChunkMeta
from salescontrol.recorder.times import rfc3339, utc_now

OUTSIDE_HOURS = "outside hours"
DISK_FULL = "disk full"
FFMPEG_FAILING = "ffmpeg failing"
HEALTHY_STATES = ("recording", "idle", "starting")


def _time(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment is not None else None


class Status:
    def __init__(self, version: str, now: Callable[[], datetime] = utc_now) -> None:
        self._lock = threading.Lock()
        self._now = now
        self.version = version
        self.started_at = now()
        self._off_reason: str | None = None
        self._ffmpeg_pid: int | None = None
        self._failing = False
        self._restarts = 0
        self._chunks = 0
        self._last_chunk_start: datetime | None = None
        self._queue = 0
        self._oldest_queued_at: datetime | None = None
        self._failed = 0
        self._disk_free = 0
        self._spool_bytes = 0
        self._uploaded = 0
        self._last_upload_at: datetime | None = None
        self._last_attempt_at: datetime | None = None
        self._last_upload_status: int | str | None = None
        self._errors: deque[str] = deque(maxlen=5)

    # -- reports from the components ----------------------------------------------

    def set_off_reason(self, reason: str | None) -> None:
        """Why recording is not wanted now (None: it is wanted)."""
        with self._lock:
            self._off_reason = reason

    def ffmpeg_running(self, pid: int | None) -> None:
        with self._lock:
            self._ffmpeg_pid = pid

    def ffmpeg_failing(self, failing: bool) -> None:
        with self._lock:
            self._failing = failing

    def ffmpeg_restarted(self) -> None:
        with self._lock:
            self._restarts += 1

    def chunk_recorded(self, meta: ChunkMeta) -> None:
        with self._lock:
            self._chunks += 1
            self._last_chunk_start = meta.start

    def spool(
        self, *, queue: int, oldest_queued_at: datetime | None, failed: int,
        spool_bytes: int, disk_free: int,
    ) -> None:  # fmt: skip
        with self._lock:
            self._queue, self._oldest_queued_at, self._failed = queue, oldest_queued_at, failed
            self._spool_bytes, self._disk_free = spool_bytes, disk_free

    def upload_attempted(self, outcome: int | str) -> None:
        """An HTTP status, or the name of a network error."""
        with self._lock:
            self._last_attempt_at = self._now()
            self._last_upload_status = outcome

    def uploaded(self) -> None:
        with self._lock:
            self._uploaded += 1
            self._last_upload_at = self._last_attempt_at or self._now()

    def error(self, message: str) -> None:
        with self._lock:
            self._errors.append(f"{rfc3339(self._now())} {message}")

    # -- views ---------------------------------------------------------------------

    def _state(self) -> tuple[str, str | None]:
        if self._off_reason == DISK_FULL:
            return "disk_full", DISK_FULL
        if self._off_reason is not None:
            return "idle", self._off_reason
        if self._failing:
            return "ffmpeg_failing", FFMPEG_FAILING
        if self._ffmpeg_pid is not None:
            return "recording", None
        return "starting", "starting"

    def state(self) -> str:
        with self._lock:
            return self._state()[0]

    def health(self) -> dict[str, Any]:
        """The JSON of GET /health."""
        with self._lock:
            state, reason = self._state()
            return {
                "state": state,
                "reason": reason,
                "recording": state == "recording",
                "queue": self._queue,
                "oldest_queued_at": _time(self._oldest_queued_at),
                "failed": self._failed,
                "last_upload_at": _time(self._last_upload_at),
                "last_attempt_at": _time(self._last_attempt_at),
                "last_upload_status": self._last_upload_status,
                "uploaded": self._uploaded,
                "chunks_recorded": self._chunks,
                "last_chunk_start": _time(self._last_chunk_start),
                "errors": list(self._errors),
                "disk_free_bytes": self._disk_free,
                "spool_bytes": self._spool_bytes,
                "ffmpeg_restarts": self._restarts,
                "ffmpeg_pid": self._ffmpeg_pid,
                "version": self.version,
                "started_at": _time(self.started_at),
                "now": _time(self._now()),
            }

    def heartbeat(self) -> dict[str, Any]:
        """The body of POST /api/v1/devices/me/heartbeat: exactly these keys."""
        with self._lock:
            state, reason = self._state()
            return {
                "recording": state == "recording",
                "reason": reason,
                "queue": self._queue,
                "oldest_queued_at": _time(self._oldest_queued_at),
                "last_upload_at": _time(self._last_upload_at),
                "failed": self._failed,
                "errors": list(self._errors),
                "disk_free_bytes": self._disk_free,
                "spool_bytes": self._spool_bytes,
                "version": self.version,
            }

"""The recorder agent: capture, upload, heartbeat and janitor under one main loop.

Each tick the main loop decides whether recording is wanted (within the hours,
and not with a full disk), passes that to the capture task, checks that every
component task is still alive, and only then pings systemd's watchdog. The
janitor's pass (a scan of the spool) runs every `janitor_every_s`. A component
that dies ends the agent with status 1, for systemd to restart it.

Start-up joins up what a crash left (the spool's split chunks, ffmpeg's unlisted
segments) before anything is recorded; shutdown (SIGTERM) stops ffmpeg so its
current segment becomes a short chunk, and leaves the outbox for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from salescontrol.recorder.capture import Capture
from salescontrol.recorder.chunk import ChunkMeta
from salescontrol.recorder.completion import Completer
from salescontrol.recorder.config import Config
from salescontrol.recorder.health import HealthServer
from salescontrol.recorder.heartbeat import Heartbeat
from salescontrol.recorder.hours import within_hours
from salescontrol.recorder.janitor import Janitor
from salescontrol.recorder.sdnotify import Notifier
from salescontrol.recorder.spool import Spool
from salescontrol.recorder.status import DISK_FULL, OUTSIDE_HOURS, Status
from salescontrol.recorder.times import utc_now
from salescontrol.recorder.uploader import Uploader
from salescontrol.recorder.version import agent_version

log = logging.getLogger(__name__)


class Agent:
    def __init__(
        self,
        config: Config,
        *,
        now: Callable[[], datetime] = utc_now,
        tick_s: float = 1.0,
        janitor_every_s: float = 5.0,
        disk_free: Callable[[], int] | None = None,
        capture_options: dict[str, Any] | None = None,
        notifier: Notifier | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.now = now
        self.tick_s = tick_s
        self.janitor_every_s = janitor_every_s
        self.spool = Spool(config.spool.dir)
        self.status = Status(agent_version())
        self.uploader = Uploader(config.server, self.spool, self.status, rng=rng)
        self.completer = Completer(self.spool, config.recording.chunk_s, on_chunk=self._on_chunk)
        self.capture = Capture(
            config.recording, self.spool, self.status, self.completer, **(capture_options or {})
        )
        self.janitor = Janitor(self.spool, config.spool, config.recording.chunk_bytes, disk_free)
        self.heartbeat = Heartbeat(config.server, self.status, config.heartbeat_s)
        self.notifier = notifier or Notifier()
        self.health: HealthServer | None = None
        self._stop = asyncio.Event()
        self._off_reason: str | None = "not decided"
        self._systemd_status = ""

    def stop(self) -> None:
        self._stop.set()

    def _on_chunk(self, meta: ChunkMeta) -> None:
        self.status.chunk_recorded(meta)
        self.uploader.wake()

    async def run(self) -> int:
        await asyncio.to_thread(self.spool.prepare)
        await asyncio.to_thread(self.spool.recover)
        self._start_health()
        await self._housekeeping()
        self._decide()
        code = 0
        async with httpx.AsyncClient(timeout=self.config.server.timeout_s) as client:
            tasks = [
                asyncio.create_task(self.capture.run(), name="capture"),
                asyncio.create_task(self.uploader.run(client), name="uploader"),
                asyncio.create_task(self.heartbeat.run(client), name="heartbeat"),
            ]
            self.notifier.ready(self.status.state())
            log.info(
                "recorder started",
                extra={"version": self.status.version, "spool": str(self.spool.root)},
            )
            try:
                code = await self._main_loop(tasks)
            finally:
                self.notifier.stopping()
                await self._shutdown(tasks)
        return code

    async def _main_loop(self, tasks: list[asyncio.Task[None]]) -> int:
        last_pass = time.monotonic()
        while not self._stop.is_set():
            for task in tasks:
                if task.done():
                    error = None if task.cancelled() else task.exception()
                    log.error(
                        "a component stopped: the agent exits",
                        extra={"component": task.get_name(), "error": repr(error)},
                        exc_info=error,
                    )
                    return 1
            if time.monotonic() - last_pass >= self.janitor_every_s:
                last_pass = time.monotonic()
                await self._housekeeping()
            self._decide()
            self.notifier.watchdog()
            snapshot = self.status.health()
            systemd_status = f"{snapshot['state']}; queue {snapshot['queue']}"
            if systemd_status != self._systemd_status:
                self._systemd_status = systemd_status
                self.notifier.status(systemd_status)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.tick_s)
        return 0

    def _decide(self) -> None:
        rec = self.config.recording
        if self.janitor.disk_full:
            reason: str | None = DISK_FULL
        elif not within_hours(self.now(), rec.hours, rec.zone):
            reason = OUTSIDE_HOURS
        else:
            reason = None
        if reason != self._off_reason:
            log.info("recording " + ("wanted" if reason is None else f"off: {reason}"))
            self._off_reason = reason
        self.status.set_off_reason(reason)
        self.capture.want(reason is None)

    async def _housekeeping(self) -> None:
        try:
            usage, free = await asyncio.to_thread(self.janitor.run)
            oldest = None
            if usage.oldest_queued is not None:
                with contextlib.suppress(OSError, ValueError):
                    meta = await asyncio.to_thread(self.spool.load, "outbox", usage.oldest_queued)
                    oldest = meta.start
        except OSError as exc:
            self.status.error(f"spool: {exc}")
            log.error("spool pass failed", extra={"error": str(exc)})
            return
        self.status.spool(
            queue=usage.queue,
            oldest_queued_at=oldest,
            failed=usage.failed,
            spool_bytes=usage.total_bytes,
            disk_free=free,
        )

    def _start_health(self) -> None:
        cfg = self.config.health
        try:
            self.health = HealthServer(cfg.host, cfg.port, self.status.health)
        except OSError as exc:
            # Recording matters more than the health page: go on without it.
            message = f"health endpoint {cfg.host}:{cfg.port} unavailable: {exc.strerror or exc}"
            self.status.error(message)
            log.error(message)
            return
        self.health.start()

    async def _shutdown(self, tasks: list[asyncio.Task[None]]) -> None:
        capture, *others = tasks
        await self.capture.close()
        for task in others:
            task.cancel()
        await asyncio.wait([capture], timeout=self.capture.stop_timeout_s + 20)
        capture.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.health is not None:
            self.health.stop()
        log.info("recorder stopped")

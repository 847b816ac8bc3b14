"""The worker's loop: take a job, keep its lease alive while working on it, post
the result or give the job back with the error, and go on.

A worker that dies (SIGKILL, a lost host) simply stops renewing: its lease
expires and another worker takes the job, the attempt counted. A worker that
finds its lease gone (it stalled past `jobs.lease_s`) stops working on the job,
since another may already have it; its result would be refused anyway. A result
the core refuses (an invalid analysis) leaves the job failed, to be tried again
after its backoff. A stop request lets the current job finish first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable

from core.logs import log_context
from core.settings import SalesControlSettings
from salescontrol import jobs
from salescontrol.pipeline.messages import JobResult
from salescontrol.pipeline.service import ResultRefused
from salescontrol.pipeline.worker.backend import Backend

log = logging.getLogger("salescontrol.worker")

Handler = Callable[[jobs.Claimed], Awaitable[JobResult]]


def default_name(kind: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{kind}"


class LeaseLost(RuntimeError):
    """Another worker may hold the job now."""


class Worker:
    def __init__(
        self,
        kind: str,
        backend: Backend,
        handler: Handler,
        sc: SalesControlSettings,
        name: str | None = None,
    ):
        self.kind = kind
        self.backend = backend
        self.handler = handler
        self.sc = sc
        self.name = name or default_name(kind)
        self.done = 0

    async def _keep_lease(self, job: jobs.Claimed) -> None:
        while True:
            await asyncio.sleep(self.sc.workers.renew_every_s)
            if not await self.backend.renew(job.id, self.name, self.sc.jobs.lease_s):
                raise LeaseLost(f"job {job.id}")

    async def _work(self, job: jobs.Claimed) -> JobResult:
        """The handler's result, unless the lease is lost first."""
        work = asyncio.ensure_future(self.handler(job))
        keeper = asyncio.ensure_future(self._keep_lease(job))
        try:
            await asyncio.wait({work, keeper}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                keeper.result()  # raises LeaseLost (or the backend's error)
            return work.result()
        finally:
            for task in (work, keeper):
                task.cancel()
            await asyncio.gather(work, keeper, return_exceptions=True)

    async def run_one(self) -> bool:
        """Do one job; False when there was none to take."""
        job = await self.backend.claim(self.kind, self.name, self.sc.jobs.lease_s)
        if job is None:
            return False
        started = time.perf_counter()
        with log_context(job=job.id, kind=job.kind, attempt=job.attempts):
            try:
                result = await self._work(job)
            except LeaseLost:
                log.warning("lease lost, job left to its new holder")
                return True
            except Exception as exc:
                # Type and message only: inputs (transcripts) never reach the log.
                error = f"{type(exc).__name__}: {exc}"[:2000]
                state = await self.backend.fail(job.id, self.name, error)
                log.warning("job failed", extra={"error_type": type(exc).__name__, "now": state})
                return True
            try:
                finished = await self.backend.finish(job.id, self.name, result)
            except ResultRefused as exc:
                # The core failed the job when it could; otherwise (it could not read
                # the result) it is given back here, so it is tried again after the
                # backoff rather than when the lease expires.
                state = exc.state or await self.backend.fail(job.id, self.name, str(exc))
                log.warning("result refused", extra={"reason": exc.reason, "now": state})
                return True
            if finished:
                self.done += 1
                log.info("job done", extra={"seconds": round(time.perf_counter() - started, 3)})
            else:
                log.warning("result refused: the lease was lost")
        return True

    async def run(self, stop: asyncio.Event, until_idle: bool = False) -> int:
        """Work until `stop` is set (or, with `until_idle`, until no job is left).
        A failing backend (the core restarting) is tried again after a pause."""
        while not stop.is_set():
            try:
                worked = await self.run_one()
            except Exception as exc:
                log.warning("backend unavailable", extra={"error_type": type(exc).__name__})
                worked = False
            if not worked:
                if until_idle:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.sc.workers.poll_s)
        return self.done

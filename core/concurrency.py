"""Serialization per key and sliding-window rate limits, in process: a service that
runs one worker process keeps the whole truth of them in memory."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class LockTimeout(TimeoutError):
    """The wait for a key's lock passed its deadline (the holder is still busy)."""


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it, so a
    million customers do not leave a million locks behind. Waiters are served in
    arrival order (asyncio.Lock is FIFO)."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._users: defaultdict[Hashable, int] = defaultdict(int)

    @asynccontextmanager
    async def hold(self, key: Hashable, deadline: float | None = None) -> AsyncIterator[None]:
        """Hold the key's lock; waiting for it past `deadline` (the event loop's
        clock) raises LockTimeout."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            try:
                async with asyncio.timeout_at(deadline):
                    await lock.acquire()
            except TimeoutError:
                raise LockTimeout from None
            try:
                yield
            finally:
                lock.release()
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


class SlidingWindowLimiter:
    """At most `limit` events per key within the last `window_s` seconds."""

    def __init__(self, limit: int, window_s: float = 60.0):
        self.limit = limit
        self.window_s = window_s
        self._events: dict[Hashable, deque[float]] = {}

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window_s:
            events.popleft()
        return events

    def exhausted(self, key: Hashable, now: float | None = None) -> float | None:
        """Seconds until `key` has a free slot again, or None when it has one now
        (nothing is counted)."""
        now = time.monotonic() if now is None else now
        events = self._recent(key, now)
        return events[0] + self.window_s - now if len(events) >= self.limit else None

    def allow(self, key: Hashable, now: float | None = None) -> tuple[bool, float]:
        """(allowed, seconds until the next slot frees up); an allowed event counts."""
        now = time.monotonic() if now is None else now
        events = self._recent(key, now)
        if len(events) >= self.limit:
            return False, events[0] + self.window_s - now
        events.append(now)
        if len(self._events) > 100_000:
            self._sweep(now)
        return True, 0.0

    def _sweep(self, now: float) -> None:
        for key in [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window_s]:
            del self._events[key]

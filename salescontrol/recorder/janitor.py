"""Keeps the spool within its disk budget, deleting only what the server has.

Only chunks in sent/ are ever deleted, oldest first, until the spool is within
`spool.max_bytes` and the disk keeps `spool.min_free_bytes` free. Unsent audio
(recording/, outbox/, failed/) is never deleted: when it alone exhausts the
budget, recording stops ("disk full") and resumes once the uploads have made
room for a whole chunk again (the hysteresis keeps it from flapping).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from salescontrol.recorder.config import SpoolConfig
from salescontrol.recorder.spool import Spool, Usage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    delete: tuple[int, ...]
    """Sequence numbers of sent chunks to delete, oldest first."""
    disk_full: bool
    room: int
    """Bytes that unsent audio may still take (after deleting every sent chunk)."""


def plan(
    usage: Usage, *, disk_free: int, max_bytes: int, min_free: int, chunk_bytes: int,
    was_full: bool,
) -> Plan:  # fmt: skip
    total, free, freed = usage.total_bytes, disk_free, 0
    delete = []
    for seq, size in usage.sent:
        if total <= max_bytes and free >= min_free:
            break
        delete.append(seq)
        total, free, freed = total - size, free + size, freed + size
    sent_left = usage.sent_bytes - freed
    room = min(max_bytes - usage.unsent_bytes, free + sent_left - min_free)
    return Plan(tuple(delete), room < chunk_bytes if was_full else room < 0, room)


class Janitor:
    def __init__(
        self,
        spool: Spool,
        cfg: SpoolConfig,
        chunk_bytes: int,
        disk_free: Callable[[], int] | None = None,
    ) -> None:
        self.spool = spool
        self.cfg = cfg
        self.chunk_bytes = chunk_bytes
        self.disk_free = disk_free or spool.disk_free
        self.disk_full = False

    def run(self) -> tuple[Usage, int]:
        """One pass (blocking: run it in a thread); the usage and free bytes after it."""
        usage, free = self.spool.usage(), self.disk_free()
        decided = plan(
            usage,
            disk_free=free,
            max_bytes=int(self.cfg.max_bytes),
            min_free=int(self.cfg.min_free_bytes),
            chunk_bytes=self.chunk_bytes,
            was_full=self.disk_full,
        )
        for seq in decided.delete:
            freed = self.spool.delete_sent(seq)
            log.info("janitor: sent chunk deleted", extra={"seq": seq, "freed_bytes": freed})
        if decided.disk_full != self.disk_full:
            log.log(
                logging.ERROR if decided.disk_full else logging.INFO,
                "janitor: disk full, recording stops" if decided.disk_full
                else "janitor: room again, recording resumes",
                extra={"unsent_bytes": usage.unsent_bytes, "room_bytes": decided.room},
            )  # fmt: skip
        self.disk_full = decided.disk_full
        if decided.delete:
            usage, free = self.spool.usage(), self.disk_free()
        return usage, free

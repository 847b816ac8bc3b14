"""Where uploaded chunks live on disk, written so that a crash never leaves a file
that looks complete but is not.

An upload is streamed into `<audio dir>/.incoming/` (same file system), counted and
hashed on the way, flushed to disk (fsync), then renamed into its place
`<device>/<YYYY>/<MM>/<DD>/<chunk id>.opus` (the UTC date of its start) and the
directory flushed too. Anything left in `.incoming/` by a crash is deleted at start.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


class TooLarge(ValueError):
    """The body is over the size limit."""


@dataclass(frozen=True, slots=True)
class Received:
    path: Path
    size_bytes: int
    sha256: str


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AudioStore:
    def __init__(self, root: Path):
        self.root = root
        self.incoming = root / ".incoming"

    def prepare(self) -> int:
        """Create the directories; delete what a crash left half written. The
        number of files deleted."""
        self.incoming.mkdir(parents=True, exist_ok=True, mode=0o750)
        left = list(self.incoming.iterdir())
        for path in left:
            path.unlink(missing_ok=True)
        return len(left)

    def relative_path(self, device_id: uuid.UUID, chunk_id: uuid.UUID, started_at: datetime) -> str:
        day = started_at.astimezone(UTC)
        return f"{device_id}/{day:%Y/%m/%d}/{chunk_id}.opus"

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    async def receive(self, body: AsyncIterator[bytes], limit: int) -> Received:
        """Stream `body` into a new file in `.incoming/`, at most `limit` bytes."""
        path = self.incoming / f"{uuid.uuid4()}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("wb") as out:
                async for piece in body:
                    size += len(piece)
                    if size > limit:
                        raise TooLarge
                    digest.update(piece)
                    out.write(piece)
                out.flush()
                # fsync waits for the disk: in a thread, not on the event loop.
                await asyncio.to_thread(os.fsync, out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Received(path, size, digest.hexdigest())

    async def place(self, received: Received, relative: str) -> Path:
        """Move a received file into its place, durably."""
        return await asyncio.to_thread(self._place, received, relative)

    def _place(self, received: Received, relative: str) -> Path:
        final = self.absolute(relative)
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        os.replace(received.path, final)
        _fsync_dir(final.parent)
        return final

    def discard(self, path: Path) -> None:
        path.unlink(missing_ok=True)

"""The audio of one dialogue for its page's player: the dialogue's span cut from its
device's chunks into one Ogg Opus file, cached under the audio directory.

The file starts exactly at the dialogue's start, because the transcript's times
count from there (a click on a line seeks the player to that time), and runs
`END_PAD_S` past its end for the tail of the last word. The chunks are decoded as
the pipeline decodes them (16 kHz mono PCM) and laid on a timeline of silence at
their own start instants: a gap between chunks (the device was off, a chunk never
came or was purged) stays silent for its real length and an overlap of two chunks'
clocks goes to the later chunk, so the player's time is always the dialogue's time.

A cached file is named by a digest of the span and of the chunks (ids and hashes):
a dialogue that grows, or gets a late chunk, gets a new file and the stale one is
removed. Files are written to a temporary name and renamed; ffmpeg runs as an
asyncio subprocess, off the event loop. Cached cuts are kept at most
`CACHE_MAX_AGE_S`, and the retention round deletes the cuts of the dialogues whose
chunks it purges, so a customer's voice leaves the disk with its chunks.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.concurrency import KeyedLocks
from salescontrol.pipeline.audio import BYTES_PER_SAMPLE, SAMPLE_RATE, DecodeError, decode_pcm

log = logging.getLogger("salescontrol.dashboard")

END_PAD_S = 1.0
MAX_SPAN_S = 3600.0
"""A longer span is cut short (a dialogue is at most a few minutes)."""
BITRATE = "32k"
CACHE_DIR = Path("cache") / "dialogues"
CACHE_MAX_AGE_S = 24 * 3600.0
MEDIA_TYPE = "audio/ogg"
ENCODE_TIMEOUT_S = 120.0

_cutting = KeyedLocks()
"""One cut of a dialogue at a time: the player's first requests come together."""


class AudioUnavailable(Exception):
    """None of the dialogue's audio is on disk any more (or it never came)."""


@dataclass(frozen=True, slots=True)
class Piece:
    """A chunk file to lay on the timeline, starting at `started_at`."""

    id: uuid.UUID
    path: Path
    started_at: datetime
    sha256: str


def span_seconds(started_at: datetime, ended_at: datetime) -> float:
    """The length of the cut of a dialogue with this start and end."""
    return min((ended_at - started_at).total_seconds() + END_PAD_S, MAX_SPAN_S)


def lay(start: datetime, length_s: float, decoded: Sequence[tuple[datetime, bytes]]) -> bytes:
    """`length_s` of 16 kHz mono s16le from `start`: each decoded chunk at its own
    start instant, silence where none is; a later chunk wins an overlap."""
    total = round(length_s * SAMPLE_RATE)
    timeline = bytearray(total * BYTES_PER_SAMPLE)
    for chunk_start, pcm in decoded:
        offset = round((chunk_start - start).total_seconds() * SAMPLE_RATE)
        samples = len(pcm) // BYTES_PER_SAMPLE
        skip = max(0, -offset)
        at = max(0, offset)
        count = min(samples - skip, total - at)
        if count > 0:
            timeline[at * BYTES_PER_SAMPLE : (at + count) * BYTES_PER_SAMPLE] = pcm[
                skip * BYTES_PER_SAMPLE : (skip + count) * BYTES_PER_SAMPLE
            ]
    return bytes(timeline)


def cache_name(
    dialogue_id: uuid.UUID, start: datetime, length_s: float, pieces: Sequence[Piece]
) -> str:
    digest = hashlib.sha256(f"{start.isoformat()}|{length_s:.3f}".encode())
    for piece in pieces:
        digest.update(f"|{piece.id}:{piece.sha256}:{piece.started_at.isoformat()}".encode())
    return f"{dialogue_id}-{digest.hexdigest()[:16]}.ogg"


async def _encode(pcm: bytes, target: Path) -> None:
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
        "-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
        "-c:a", "libopus", "-b:a", BITRATE, "-application", "voip",
        "-f", "ogg", "-y", str(part),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(pcm), ENCODE_TIMEOUT_S)
        if proc.returncode != 0:
            raise DecodeError(f"ffmpeg failed: {err.decode(errors='replace').strip()[:300]}")
        os.replace(part, target)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        part.unlink(missing_ok=True)
        raise


def _tidy(root: Path, dialogue_id: uuid.UUID, keep: str, now: float) -> None:
    """Remove this dialogue's stale cuts and anyone's cuts past CACHE_MAX_AGE_S."""
    for path in (root / CACHE_DIR).glob(f"{dialogue_id}-*"):
        if path.name != keep:
            path.unlink(missing_ok=True)
    prune_cuts(root, now)


def drop_cuts(root: Path, dialogue_ids: Iterable[uuid.UUID]) -> int:
    """Delete the cached cuts of these dialogues (their chunks were purged); how many."""
    directory = root / CACHE_DIR
    removed = 0
    for dialogue_id in dialogue_ids:
        for path in directory.glob(f"{dialogue_id}-*"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def prune_cuts(root: Path, now: float) -> int:
    """Delete every cached cut older than CACHE_MAX_AGE_S (the retention round calls
    it: the cache stays small, whatever its dialogues' age); how many."""
    directory = root / CACHE_DIR
    if not directory.is_dir():
        return 0
    removed = 0
    for path in directory.iterdir():
        try:
            if now - path.stat().st_mtime > CACHE_MAX_AGE_S:
                path.unlink(missing_ok=True)
                removed += 1
        except FileNotFoundError:  # a request tidied it first
            continue
    return removed


async def dialogue_audio(
    root: Path,
    dialogue_id: uuid.UUID,
    started_at: datetime,
    ended_at: datetime,
    pieces: Sequence[Piece],
) -> Path:
    """The cached cut of a dialogue, made now if it is missing or stale."""
    length_s = span_seconds(started_at, ended_at)
    directory = root / CACHE_DIR
    target = directory / cache_name(dialogue_id, started_at, length_s, pieces)
    async with _cutting.hold(dialogue_id):
        if target.exists():
            return target
        decoded: list[tuple[datetime, bytes]] = []
        for piece in pieces:
            try:
                decoded.append((piece.started_at, await decode_pcm(piece.path)))
            except (DecodeError, OSError) as exc:
                # Its place stays silent: the rest of the dialogue is still worth hearing.
                log.warning(
                    "a chunk of a dialogue could not be decoded",
                    extra={"dialogue_id": str(dialogue_id), "chunk_id": str(piece.id),
                           "error": str(exc)[:300]},
                )  # fmt: skip
        if not decoded:
            raise AudioUnavailable(str(dialogue_id))
        pcm = lay(started_at, length_s, decoded)
        directory.mkdir(parents=True, exist_ok=True, mode=0o750)
        await _encode(pcm, target)
        await asyncio.to_thread(_tidy, root, dialogue_id, target.name, time.time())
    return target

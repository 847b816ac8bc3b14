"""The spool on the device's disk: where every chunk is, from ffmpeg to the server.

    recording/  ffmpeg's output: the segment being written, its segment list
    outbox/     complete chunks waiting for upload: NNNNNNNNNN.opus + NNNNNNNNNN.json
    sent/       confirmed by the server; the only place the janitor deletes from
    failed/     rejected with a final 4xx; the sidecar holds the status and reason;
                and, as NNNNNNNNNN.*.bad, chunks whose sidecar was unreadable

A chunk's state is the folder its sidecar is in; its audio follows with a second
rename. Each step is an atomic rename within one file system, made durable with
fsync of the file and of the folders, so a power cut leaves every chunk in one
state or split between two neighbouring ones, which `recover` joins up at start.
Names are the chunk's sequence number, zero-padded: folder order is recording order.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from salescontrol.recorder.chunk import ChunkMeta
from salescontrol.recorder.times import utc_now

log = logging.getLogger(__name__)

STATES = ("outbox", "sent", "failed")
BAD = ".bad"
AUDIO = ".opus"
SIDECAR = ".json"
# Later states win when a crash left a sidecar in two folders.
_RANK = {"recording": 0, "outbox": 1, "sent": 2, "failed": 2}


class BadSidecar(ValueError):
    """A chunk's sidecar that does not parse (damaged storage)."""


def chunk_name(seq: int) -> str:
    return f"{seq:010d}"


def parse_seq(name: str) -> int | None:
    stem, dot, ext = name.partition(".")
    return int(stem) if dot and stem.isdigit() and "." + ext in (AUDIO, SIDECAR) else None


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


@dataclass(frozen=True)
class Usage:
    """Bytes on disk per folder, and what the janitor and health need to know."""

    recording_bytes: int
    outbox_bytes: int
    sent_bytes: int
    failed_bytes: int
    queue: int
    failed: int
    oldest_queued: int | None
    sent: tuple[tuple[int, int], ...]
    """(seq, bytes of audio and sidecar) of each sent chunk, oldest first."""

    @property
    def unsent_bytes(self) -> int:
        return self.recording_bytes + self.outbox_bytes + self.failed_bytes

    @property
    def total_bytes(self) -> int:
        return self.unsent_bytes + self.sent_bytes


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.recording = root / "recording"
        self._seq_file = root / "next_seq"

    def dir(self, state: str) -> Path:
        return self.recording if state == "recording" else self.root / state

    def audio(self, state: str, seq: int) -> Path:
        return self.dir(state) / (chunk_name(seq) + AUDIO)

    def sidecar(self, state: str, seq: int) -> Path:
        return self.dir(state) / (chunk_name(seq) + SIDECAR)

    def prepare(self) -> None:
        for state in ("recording", *STATES):
            self.dir(state).mkdir(parents=True, exist_ok=True)

    def seqs(self, state: str, suffix: str = SIDECAR) -> list[int]:
        found = []
        with contextlib.suppress(FileNotFoundError), os.scandir(self.dir(state)) as entries:
            for entry in entries:
                seq = parse_seq(entry.name)
                if seq is not None and entry.name.endswith(suffix):
                    found.append(seq)
        return sorted(found)

    def load(self, state: str, seq: int) -> ChunkMeta:
        path = self.sidecar(state, seq)
        try:
            return ChunkMeta.from_json(path.read_bytes())
        except (ValueError, TypeError, KeyError) as exc:
            raise BadSidecar(f"{path}: {type(exc).__name__}") from exc

    def quarantine_unreadable(self) -> list[int]:
        """Set aside chunks whose sidecar cannot be read (a damaged card): both files
        get the suffix `.bad` in failed/, out of every queue and never deleted, for
        a person to look at. The chunks set aside."""
        bad = []
        for state in STATES:
            for seq in self.seqs(state):
                try:
                    self.load(state, seq)
                except BadSidecar:
                    bad.append(seq)
                    for path in (self.sidecar(state, seq), self.audio(state, seq)):
                        if path.exists():
                            os.replace(path, self.dir("failed") / (path.name + BAD))
                    fsync_dir(self.dir("failed"))
                    log.error("spool: unreadable sidecar set aside", extra={"seq": seq})
        return bad

    # -- moves -------------------------------------------------------------------

    def admit(self, audio: Path, meta: ChunkMeta) -> None:
        """A completed segment from recording/ into the outbox, with its sidecar."""
        with open(audio, "rb") as done:
            # ffmpeg does not fsync; the sidecar must not outlive the audio it describes.
            os.fsync(done.fileno())
        write_atomic(self.sidecar("outbox", meta.seq), meta.to_json())
        os.replace(audio, self.audio("outbox", meta.seq))
        fsync_dir(self.dir("outbox"))
        fsync_dir(audio.parent)
        self.remember_seq(meta.seq + 1)

    def move(self, seq: int, src: str, dst: str, meta: ChunkMeta | None = None) -> None:
        """Sidecar first (the state), then the audio; `meta` rewrites the sidecar."""
        if meta is None:
            os.replace(self.sidecar(src, seq), self.sidecar(dst, seq))
            fsync_dir(self.dir(dst))
        else:
            write_atomic(self.sidecar(dst, seq), meta.to_json())
            self.sidecar(src, seq).unlink()
        os.replace(self.audio(src, seq), self.audio(dst, seq))
        fsync_dir(self.dir(dst))
        fsync_dir(self.dir(src))

    def retire_orphan(self, seq: int, meta: ChunkMeta) -> None:
        """A queued sidecar whose audio is gone: kept in failed/ as a record."""
        write_atomic(self.sidecar("failed", seq), meta.to_json())
        self.sidecar("outbox", seq).unlink(missing_ok=True)
        fsync_dir(self.dir("outbox"))

    def delete_sent(self, seq: int) -> int:
        """Remove a confirmed chunk; the bytes freed."""
        if self.audio("outbox", seq).exists():
            return 0  # its move into sent/ is under way: its audio would be orphaned
        freed = 0
        for path in (self.audio("sent", seq), self.sidecar("sent", seq)):
            with contextlib.suppress(FileNotFoundError):
                freed += path.stat().st_size
                path.unlink()
        return freed

    # -- sequence numbers --------------------------------------------------------

    def next_seq(self) -> int:
        """Above every chunk ever named here, also those the janitor deleted."""
        highest = -1
        for state in ("recording", *STATES):
            with contextlib.suppress(FileNotFoundError), os.scandir(self.dir(state)) as entries:
                for entry in entries:
                    seq = parse_seq(entry.name)
                    if seq is not None:
                        highest = max(highest, seq)
        remembered = 0
        with contextlib.suppress(FileNotFoundError, ValueError):
            remembered = int(self._seq_file.read_text().strip())
        return max(highest + 1, remembered)

    def remember_seq(self, next_seq: int) -> None:
        write_atomic(self._seq_file, f"{next_seq}\n".encode())

    # -- accounting --------------------------------------------------------------

    def usage(self) -> Usage:
        sizes: dict[str, dict[int, int]] = {}
        totals: dict[str, int] = {}
        for state in ("recording", *STATES):
            per_seq: dict[int, int] = {}
            total = 0
            with contextlib.suppress(FileNotFoundError), os.scandir(self.dir(state)) as entries:
                for entry in entries:
                    try:
                        size = entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue  # moved on by the uploader meanwhile
                    total += size
                    seq = parse_seq(entry.name)
                    if seq is not None:
                        per_seq[seq] = per_seq.get(seq, 0) + size
            sizes[state], totals[state] = per_seq, total
        queued = self.seqs("outbox")
        return Usage(
            recording_bytes=totals["recording"],
            outbox_bytes=totals["outbox"],
            sent_bytes=totals["sent"],
            failed_bytes=totals["failed"],
            queue=len(queued),
            failed=len(self.seqs("failed")),
            oldest_queued=queued[0] if queued else None,
            sent=tuple(sorted(sizes["sent"].items())),
        )

    def disk_free(self) -> int:
        stats = os.statvfs(self.root)
        return stats.f_bavail * stats.f_frsize

    # -- crash recovery ----------------------------------------------------------

    def recover(self) -> None:
        """Join up chunks a crash left split between two folders (run before recording)."""
        for state in STATES:
            for tmp in self.dir(state).glob("*.tmp"):
                tmp.unlink()
        self.quarantine_unreadable()
        where: dict[int, str] = {}
        for state in STATES:
            for seq in self.seqs(state):
                if seq in where:
                    keep, drop = sorted((where[seq], state), key=_RANK.__getitem__)[::-1]
                    self.sidecar(drop, seq).unlink()
                    log.warning(
                        "spool: duplicate sidecar removed",
                        extra={"seq": seq, "kept": keep, "removed": drop},
                    )
                    where[seq] = keep
                else:
                    where[seq] = state
        for state in ("recording", *STATES):
            for seq in self.seqs(state, AUDIO):
                target = where.get(seq)
                if target is not None and target != state:
                    os.replace(self.audio(state, seq), self.audio(target, seq))
                    fsync_dir(self.dir(target))
                    log.info("spool: audio joined its sidecar", extra={"seq": seq, "to": target})
                elif target is None and state == "sent":
                    # Audio moves into sent/ only after its confirmed sidecar did.
                    self.audio(state, seq).unlink()
                    log.info("spool: confirmed audio without a sidecar deleted", extra={"seq": seq})
                elif target is None and state != "recording":
                    log.warning("spool: audio without a sidecar", extra={"seq": seq, "in": state})
        for seq, state in where.items():
            if self.audio(state, seq).exists():
                continue
            if state == "outbox":
                meta = self.load("outbox", seq).with_outcome(
                    failed_at=utc_now(),
                    error_code="audio_missing",
                    error_message="audio file missing",
                )
                self.retire_orphan(seq, meta)
                log.error("spool: queued chunk without audio moved to failed/", extra={"seq": seq})
            elif state == "sent":
                self.sidecar("sent", seq).unlink()  # the janitor was deleting it

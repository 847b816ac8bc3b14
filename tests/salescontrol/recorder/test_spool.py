"""The spool after a power cut: every chunk a crash left split between two
folders is joined up at start, nothing unsent is lost, and sequence numbers
never go back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from salescontrol.recorder.chunk import ChunkMeta
from salescontrol.recorder.spool import Spool

START = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def sidecar(spool: Spool, state: str, seq: int) -> ChunkMeta:
    meta = ChunkMeta.new(seq, START, 60.0, 5, "00" * 32)
    spool.sidecar(state, seq).write_bytes(meta.to_json())
    return meta


def audio(spool: Spool, state: str, seq: int) -> None:
    spool.audio(state, seq).write_bytes(b"opus!")


def test_recovery_joins_what_a_crash_split(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.prepare()
    # 1: admitted, cut before the audio's rename out of recording/.
    sidecar(spool, "outbox", 1)
    audio(spool, "recording", 1)
    # 2: confirmed, cut between the sent sidecar and the removal of the queued one.
    sidecar(spool, "outbox", 2)
    kept = sidecar(spool, "sent", 2)
    audio(spool, "outbox", 2)
    # 3: queued, but its audio is gone (deleted by hand): kept as a record in failed/.
    sidecar(spool, "outbox", 3)
    # 4: the janitor was deleting it: its audio went first.
    sidecar(spool, "sent", 4)
    # 5: confirmed audio whose sidecar the janitor had already deleted.
    audio(spool, "sent", 5)
    # A sidecar write cut before its rename.
    (spool.dir("outbox") / "0000000006.json.tmp").write_bytes(b"{")
    spool.recover()
    assert spool.seqs("outbox") == [1] and spool.audio("outbox", 1).exists()
    assert spool.seqs("sent") == [2] and spool.audio("sent", 2).exists()
    assert spool.load("sent", 2).id == kept.id
    assert spool.seqs("failed") == [3]
    assert spool.load("failed", 3).error_code == "audio_missing"
    assert not list(spool.recording.iterdir())
    assert sorted(p.name for p in spool.dir("sent").iterdir()) == [
        "0000000002.json", "0000000002.opus",
    ]  # fmt: skip
    assert not list(spool.dir("outbox").glob("*.tmp"))


def test_a_chunk_still_moving_into_sent_is_not_deleted(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.prepare()
    sidecar(spool, "sent", 7)
    audio(spool, "outbox", 7)  # the uploader renames it next
    assert spool.delete_sent(7) == 0
    assert spool.sidecar("sent", 7).exists()


def test_numbers_never_go_back_even_when_everything_was_deleted(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.prepare()
    assert spool.next_seq() == 0
    audio(spool, "recording", 41)
    sidecar(spool, "outbox", 41)
    spool.admit(spool.audio("recording", 41), spool.load("outbox", 41))
    assert spool.next_seq() == 42
    spool.move(41, "outbox", "sent")
    spool.delete_sent(41)
    assert spool.next_seq() == 42


def test_an_unreadable_sidecar_is_set_aside_and_the_rest_goes_on(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.prepare()
    sidecar(spool, "outbox", 1)
    audio(spool, "outbox", 1)
    # 2: a damaged card: the sidecar is not JSON any more, or lacks its fields.
    spool.sidecar("outbox", 2).write_bytes(b"\x00\xff garbage")
    audio(spool, "outbox", 2)
    spool.sidecar("sent", 3).write_bytes(b'{"seq": 3}')
    audio(spool, "sent", 3)
    sidecar(spool, "outbox", 4)
    audio(spool, "outbox", 4)

    spool.recover()

    assert spool.seqs("outbox") == [1, 4] and spool.seqs("sent") == []
    assert spool.seqs("failed") == []  # out of every queue, --requeue-failed included
    assert sorted(p.name for p in spool.dir("failed").iterdir()) == [
        "0000000002.json.bad", "0000000002.opus.bad",
        "0000000003.json.bad", "0000000003.opus.bad",
    ]  # fmt: skip
    assert (spool.dir("failed") / "0000000002.opus.bad").read_bytes() == b"opus!"

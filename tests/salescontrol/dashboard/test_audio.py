"""A dialogue's audio as its player gets it: cut from the chunks uploaded through the
ingest API into one Ogg Opus file exactly as long as the dialogue (plus its end
padding), each chunk at its own time and a gap between chunks silent for its real
length; Range requests answered with 206 and the right bytes; the cut cached and
made anew when the dialogue changes; nothing sent without a session."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from salescontrol.dashboard.audio import CACHE_DIR, END_PAD_S, lay
from salescontrol.db.models import Device, Dialogue, Register
from salescontrol.pipeline.audio import SAMPLE_RATE
from tests.salescontrol.audio import AudioFactory
from tests.salescontrol.ingest.service import (
    ADMIN_LOGIN,
    ADMIN_PASSWORD,
    Ingest,
    serve,
    settings_for,
)

T0 = datetime(2026, 3, 7, 5, 0, tzinfo=UTC)


@pytest.fixture
async def ingest(database_url: str, tmp_path: Path) -> AsyncIterator[Ingest]:
    async with serve(settings_for(database_url, tmp_path / "audio")) as running:
        yield running


async def log_in(ingest: Ingest) -> None:
    assert (await ingest.login(ADMIN_LOGIN, ADMIN_PASSWORD)).status_code == 200


async def recorded(
    ingest: Ingest, audio: AudioFactory, chunks: list[tuple[float, float, int]]
) -> Device:
    """A device that uploaded tones: (start after T0 in s, length in s, Hz) each."""
    device = await ingest.device()
    for start_s, length_s, hz in chunks:
        response = await device.upload(
            uuid.uuid4(), T0 + timedelta(seconds=start_s), audio.opus(length_s, hz)
        )
        assert response.status_code in (200, 201), response.text
    async with ingest.runtime.sessions() as db:
        row = await db.get(Device, uuid.UUID(device.id))
        assert row is not None
        return row


async def dialogue_on(ingest: Ingest, device: Device, start_s: float, end_s: float) -> uuid.UUID:
    async with ingest.runtime.sessions() as db, db.begin():
        register = await db.get(Register, device.register_id)
        assert register is not None
        dialogue = Dialogue(
            device_id=device.id,
            register_id=register.id,
            point_id=register.point_id,
            started_at=T0 + timedelta(seconds=start_s),
            ended_at=T0 + timedelta(seconds=end_s),
            state="closed",
            closed_reason="silence",
            closed_at=T0 + timedelta(seconds=end_s + 10),
        )
        db.add(dialogue)
    return dialogue.id


def probe_seconds(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out)["format"]["duration"])


def decode(path: Path) -> np.ndarray:
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1",
         "-ar", str(SAMPLE_RATE), "-"],
        check=True,
        capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def between(signal: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    return signal[int(start_s * SAMPLE_RATE) : int(end_s * SAMPLE_RATE)]


def pitch(part: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
    return float(np.fft.rfftfreq(len(part), 1 / SAMPLE_RATE)[int(np.argmax(spectrum))])


def rms(part: np.ndarray) -> float:
    return float(np.sqrt(np.mean(part**2)))


async def fetch(ingest: Ingest, dialogue_id: uuid.UUID, tmp_path: Path) -> Path:
    response = await ingest.http.get(f"/dialogues/{dialogue_id}/audio")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "audio/ogg"
    assert "private" in response.headers["cache-control"]
    path = tmp_path / f"{dialogue_id}.ogg"
    path.write_bytes(response.content)
    return path


async def test_a_dialogue_over_two_chunks_is_one_file_of_its_length(
    ingest: Ingest, audio: AudioFactory, tmp_path: Path
) -> None:
    device = await recorded(ingest, audio, [(0, 4, 440), (4, 4, 880)])
    dialogue = await dialogue_on(ingest, device, 2.0, 6.0)
    await log_in(ingest)

    path = await fetch(ingest, dialogue, tmp_path)

    assert abs(probe_seconds(path) - (4.0 + END_PAD_S)) <= 0.1
    signal = decode(path)
    # The first chunk's tail first, the second chunk's start next, at their times.
    assert abs(pitch(between(signal, 0.2, 1.8)) - 440) < 10
    assert abs(pitch(between(signal, 2.2, 4.8)) - 880) < 10


async def test_a_gap_between_chunks_stays_silent_for_its_length(
    ingest: Ingest, audio: AudioFactory, tmp_path: Path
) -> None:
    # The device was off from 4 s to 6 s after T0.
    device = await recorded(ingest, audio, [(0, 4, 440), (6, 4, 880)])
    dialogue = await dialogue_on(ingest, device, 3.0, 8.0)
    await log_in(ingest)

    path = await fetch(ingest, dialogue, tmp_path)

    assert abs(probe_seconds(path) - (5.0 + END_PAD_S)) <= 0.1
    signal = decode(path)
    assert abs(pitch(between(signal, 0.1, 0.9)) - 440) < 10
    assert rms(between(signal, 1.15, 2.85)) < 0.01 < rms(between(signal, 0.1, 0.9))
    assert abs(pitch(between(signal, 3.2, 5.8)) - 880) < 10


async def test_range_requests_get_the_right_bytes(
    ingest: Ingest, audio: AudioFactory, tmp_path: Path
) -> None:
    device = await recorded(ingest, audio, [(0, 4, 440)])
    dialogue = await dialogue_on(ingest, device, 0.5, 3.5)
    await log_in(ingest)
    whole = (await fetch(ingest, dialogue, tmp_path)).read_bytes()
    url = f"/dialogues/{dialogue}/audio"

    first = await ingest.http.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-99/{len(whole)}"
    assert first.content == whole[:100]
    rest = await ingest.http.get(url, headers={"Range": "bytes=100-"})
    assert rest.status_code == 206 and rest.content == whole[100:]
    tail = await ingest.http.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == whole[-50:]
    beyond = await ingest.http.get(url, headers={"Range": f"bytes={len(whole) + 10}-"})
    assert beyond.status_code == 416


async def test_the_cut_is_cached_and_made_anew_when_the_dialogue_grows(
    ingest: Ingest, audio: AudioFactory, tmp_path: Path
) -> None:
    device = await recorded(ingest, audio, [(0, 8, 440)])
    dialogue = await dialogue_on(ingest, device, 1.0, 3.0)
    await log_in(ingest)
    cache = ingest.audio_dir / CACHE_DIR

    await fetch(ingest, dialogue, tmp_path)
    (cut,) = cache.iterdir()
    made = cut.stat().st_mtime_ns
    await fetch(ingest, dialogue, tmp_path)
    assert [p.stat().st_mtime_ns for p in cache.iterdir()] == [made]

    # An open dialogue grows: the next request cuts it again, the old cut goes.
    async with ingest.runtime.sessions() as db, db.begin():
        await db.execute(
            update(Dialogue)
            .where(Dialogue.id == dialogue)
            .values(ended_at=T0 + timedelta(seconds=6))
        )
    path = await fetch(ingest, dialogue, tmp_path)
    assert abs(probe_seconds(path) - (5.0 + END_PAD_S)) <= 0.1
    (new,) = cache.iterdir()
    assert new.name != cut.name


async def test_without_audio_on_disk_the_answer_is_a_404_page(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await recorded(ingest, audio, [(0, 4, 440)])
    dialogue = await dialogue_on(ingest, device, 10.0, 12.0)  # after the chunk
    await log_in(ingest)
    response = await ingest.http.get(f"/dialogues/{dialogue}/audio")
    assert response.status_code == 404 and "Записи нет" in response.text


async def test_without_a_session_no_audio_is_sent(
    ingest: Ingest, audio: AudioFactory, tmp_path: Path
) -> None:
    device = await recorded(ingest, audio, [(0, 4, 440)])
    dialogue = await dialogue_on(ingest, device, 0.5, 3.5)
    url = f"/dialogues/{dialogue}/audio"

    for headers in ({}, {"Range": "bytes=0-"}):
        response = await ingest.http.get(url, headers=headers)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next=%2Fdialogues%2F{dialogue}%2Faudio"
        assert b"OggS" not in response.content
    # Nothing was even cut for a visitor without a session.
    assert not (ingest.audio_dir / CACHE_DIR).exists()


def test_lay_puts_each_chunk_at_its_time_and_the_later_one_wins_an_overlap() -> None:
    def tone(value: int, seconds: float) -> bytes:
        return np.full(int(seconds * SAMPLE_RATE), value, dtype="<i2").tobytes()

    start = T0
    timeline = np.frombuffer(
        lay(
            start,
            4.0,
            [
                (start - timedelta(seconds=1), tone(1, 2.0)),  # 1 s before the start
                (start + timedelta(seconds=2.5), tone(3, 5.0)),  # runs past the end
                (start + timedelta(seconds=0.5), tone(2, 1.0)),  # over the first
            ],
        ),
        dtype="<i2",
    )
    assert len(timeline) == 4 * SAMPLE_RATE
    at = {s: int(timeline[int(s * SAMPLE_RATE)]) for s in (0.25, 0.75, 1.25, 2.0, 3.0, 3.99)}
    assert at == {0.25: 1, 0.75: 2, 1.25: 2, 2.0: 0, 3.0: 3, 3.99: 3}

"""The longest chunk the recorder may cut is one the server stores: a full chunk of
`MAX_CHUNK_S`, encoded with the recorder's own ffmpeg options, measures a little
more by ffprobe (Opus's pre-skip) and must still be taken, not refused for good
as too long; a limit really below it still refuses it."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.chunk_limits import MAX_CHUNK_S
from core.settings import Settings
from salescontrol.ingest.probe import probe
from salescontrol.recorder.command import output_args
from salescontrol.recorder.config import parse_config
from tests.salescontrol.ingest.service import serve, settings_for
from tests.support.errors import assert_error

START = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def recorder_chunk(work: Path) -> bytes:
    """A whole chunk of MAX_CHUNK_S from the middle of a recording, cut by ffmpeg
    with the recorder's output options."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg is not installed (apt install ffmpeg)")
    rec = parse_config({
        "server": {"url": "http://127.0.0.1:9", "token": "unused"},
        "recording": {"source": "lavfi:anullsrc", "chunk_s": MAX_CHUNK_S},
    }).recording  # fmt: skip
    args = output_args(rec, 0)
    # Encoded faster than real time, the stream is cut by its own timestamps, not
    # wherever the wall clock happens to pass a multiple of chunk_s meanwhile.
    at = args.index("-segment_atclocktime")
    del args[at : at + 2]
    work.mkdir()
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi",
         "-i", f"anoisesrc=sample_rate=16000:amplitude=0.05:duration={MAX_CHUNK_S + 2}",
         *args],
        cwd=work, check=True, timeout=120,
    )  # fmt: skip
    first, _rest = sorted(work.glob("*.opus"))
    return first.read_bytes()


def with_max_chunk_s(settings: Settings, seconds: float) -> Settings:
    sc = settings.salescontrol
    ingest = sc.ingest.model_copy(update={"max_chunk_s": seconds})
    business = settings.business.model_copy(
        update={"salescontrol": sc.model_copy(update={"ingest": ingest})}
    )
    return settings.model_copy(update={"business": business})


async def test_a_full_chunk_of_the_longest_length_is_stored(
    database_url: str, tmp_path: Path
) -> None:
    body = recorder_chunk(tmp_path / "made")
    (tmp_path / "chunk.opus").write_bytes(body)
    measured = (await probe(tmp_path / "chunk.opus")).duration_s
    # What the server compares: longer than chunk_s by the container's overhead.
    assert MAX_CHUNK_S < measured < MAX_CHUNK_S + 0.1

    settings = settings_for(database_url, tmp_path / "audio")
    assert settings.salescontrol.ingest.max_chunk_s == MAX_CHUNK_S
    async with serve(settings) as ingest:
        device = await ingest.device()
        stored = await device.upload(uuid.uuid4(), START, body)
    assert stored.status_code == 201, stored.text
    assert stored.json()["duration_s"] == pytest.approx(measured)

    # The slack is for the overhead only: two seconds of limit too few refuse it.
    async with serve(with_max_chunk_s(settings, MAX_CHUNK_S - 2)) as ingest:
        device = await ingest.device()
        refused = await device.upload(uuid.uuid4(), START, body)
    assert_error(refused, 400, "BAD_REQUEST")

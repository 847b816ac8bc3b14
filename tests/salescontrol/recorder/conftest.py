"""Fixtures of the recorder's tests: the upload server, configs, ffmpeg's presence."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from salescontrol.recorder.config import Config, parse_config
from tests.support.net import free_port
from tests.support.recorder import ChunkServer

HAVE_FFMPEG = shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None
needs_ffmpeg = pytest.mark.skipif(
    not HAVE_FFMPEG, reason="ffmpeg/ffprobe are not installed (Debian: apt-get install ffmpeg)"
)
# 20 ms blocks, as a microphone's ALSA periods: lavfi's default of 64 ms would add
# up to 64 ms of jitter to where ffmpeg cuts (see salescontrol/recorder/segments.py).
SINE = "lavfi:sine=frequency=440:sample_rate=16000:samples_per_frame=320"


@pytest.fixture
def server() -> Iterator[ChunkServer]:
    with ChunkServer() as running:
        yield running


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class Endpoint(Protocol):
    """Where the agent uploads: the stub `ChunkServer`, or a real server's address
    and a device token it issued."""

    @property
    def url(self) -> str: ...

    @property
    def token(self) -> str: ...


def make_config(spool: Path, server: Endpoint, /, **sections: Any) -> Config:
    """A test config: fast retries, a free health port, 2 s chunks of a sine."""
    base: dict[str, Any] = {
        "server": {
            "url": server.url,
            "token": server.token,
            "timeout_s": 5,
            "retry_initial_s": 0.05,
            "retry_max_s": 0.5,
        },
        "recording": {"source": SINE, "chunk_s": 2},
        "spool": {"dir": str(spool), "max_bytes": "50MB", "min_free_bytes": 0},
        "health": {"port": free_port()},
        "heartbeat_s": 60,
    }
    return parse_config(_merge(base, sections))


@pytest.fixture
def config_for(tmp_path: Path, server: ChunkServer) -> Callable[..., Config]:
    def build(**sections: Any) -> Config:
        return make_config(tmp_path / "spool", server, **sections)

    return build


async def eventually(check: Callable[[], bool], timeout_s: float = 20, what: str = "") -> None:
    """Wait (without blocking the event loop) until `check()` holds."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)

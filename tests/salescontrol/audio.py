"""Audio files for the tests, made by the real ffmpeg (cached per session)."""

from __future__ import annotations

import subprocess
from pathlib import Path


class AudioFactory:
    def __init__(self, root: Path):
        self.root = root

    def _make(self, name: str, args: list[str]) -> Path:
        path = self.root / name
        if not path.exists():
            subprocess.run(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, str(path)],
                check=True,
            )
        return path

    def opus(self, seconds: float = 2.0, hz: int = 440) -> bytes:
        """A mono 16 kHz opus chunk in Ogg, as the recorder writes them."""
        return self._make(
            f"tone_{hz}_{seconds}.opus",
            [
                "-f", "lavfi", "-i", f"sine=frequency={hz}:duration={seconds}:sample_rate=16000",
                "-ac", "1", "-c:a", "libopus", "-b:a", "24k",
            ],
        ).read_bytes()  # fmt: skip

    def wav(self, seconds: float = 1.0) -> bytes:
        """PCM in WAV: audio, but not a codec the ingest API takes."""
        return self._make(
            f"tone_{seconds}.wav",
            ["-f", "lavfi", "-i", f"sine=frequency=300:duration={seconds}", "-ac", "1"],
        ).read_bytes()

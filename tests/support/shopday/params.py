"""Everything that shapes a shop day besides its script; all of it goes into the cache key.

The day starts at `start`. A start between clock boundaries gives a short first
chunk, as a recorder started mid-minute does: the default, 2026-12-04T04:00:32Z
(09:00:32 in Asia/Almaty), gives a first chunk of 28 s and puts chunk boundaries
inside three dialogues of dialogues_dev.yaml (d03, d06, d08), each at least 2 s
from the dialogue's ends. The start must be a whole millisecond, so that every
clock boundary falls on a sample.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from salescontrol.recorder.times import EPOCH, from_epoch_us
from tests.support.shopday.voices import CUSTOMER, SAMPLE_RATE, SELLER, Voice

DEFAULT_START = datetime(2026, 12, 4, 4, 0, 32, tzinfo=UTC)
DAY_S = 86_400


@dataclass(frozen=True)
class DayParams:
    start: datetime = DEFAULT_START
    chunk_s: int = 60
    seed: int = 20261204
    """Seeds the pauses between turns and the background noise."""
    pause_s: tuple[float, float] = (0.5, 1.2)
    """Range of the pause between two turns of a dialogue (uniform)."""
    tail_s: float = 15.0
    """Silence after the last dialogue: longer than the cutter's 12 s gap, so it closes."""
    speech_dbfs: float = -20.0
    noise_dbfs: float = -50.0
    seller: Voice = SELLER
    customer: Voice = CUSTOMER
    bitrate: str = "24k"
    sample_rate: int = field(default=SAMPLE_RATE, init=False)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must be an aware datetime (e.g. ...Z)")
        if self.start.microsecond % 1000:
            raise ValueError("start must be a whole millisecond")
        if self.chunk_s < 1 or DAY_S % self.chunk_s:
            raise ValueError("chunk_s must divide a day, as the recorder's does")
        low, high = self.pause_s
        if not 0 < low <= high:
            raise ValueError("pause_s must be (low, high) with 0 < low <= high")
        if self.tail_s < 0 or self.noise_dbfs >= self.speech_dbfs:
            raise ValueError("tail_s must be >= 0 and the noise below the speech")

    @property
    def start_us(self) -> int:
        """The start in microseconds since the epoch."""
        return (self.start - EPOCH) // timedelta(microseconds=1)

    def instant(self, sample: int) -> datetime:
        """The UTC instant of a sample of the day (to the microsecond)."""
        offset_us = (sample * 1_000_000 + self.sample_rate // 2) // self.sample_rate
        return from_epoch_us(self.start_us + offset_us)

    def sample_at(self, epoch_us: int) -> int:
        """The sample of the day at an instant (exact on a boundary, see above)."""
        return round((epoch_us - self.start_us) * self.sample_rate / 1_000_000)

    def key_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"] = self.start.astimezone(UTC).isoformat()
        return data

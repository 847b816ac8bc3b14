"""A chunk's sidecar: the JSON file beside its audio that says what it is.

Written once when the chunk is completed (id, start, duration, size, sha256)
and rewritten with the outcome when the server confirms or rejects it. The id is
a UUID the device makes at completion: the idempotency key of the upload, so a
retry whose first answer was lost is recognised by the server.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from salescontrol.recorder.times import parse_rfc3339, rfc3339

_TIMES = ("start", "uploaded_at", "failed_at")


@dataclass(frozen=True)
class ChunkMeta:
    id: str
    seq: int
    start: datetime
    duration_s: float
    size_bytes: int
    sha256: str
    # The outcome, once there is one.
    uploaded_at: datetime | None = None
    failed_at: datetime | None = None
    http_status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    server: dict[str, Any] | None = field(default=None)

    @staticmethod
    def new(
        seq: int, start: datetime, duration_s: float, size_bytes: int, sha256: str
    ) -> ChunkMeta:
        if start.tzinfo is None:
            raise ValueError("a chunk's start must be an aware datetime")
        return ChunkMeta(str(uuid.uuid4()), seq, start, duration_s, size_bytes, sha256)

    def with_outcome(self, **outcome: Any) -> ChunkMeta:
        return replace(self, **outcome)

    def queued(self) -> ChunkMeta:
        """The chunk as it was before any outcome (to queue it again)."""
        return ChunkMeta(
            self.id, self.seq, self.start, self.duration_s, self.size_bytes, self.sha256
        )

    def to_json(self) -> bytes:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        for key in _TIMES:
            if key in data:
                data[key] = rfc3339(data[key])
        data["duration_s"] = round(self.duration_s, 6)
        return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode()

    @staticmethod
    def from_json(raw: bytes | str) -> ChunkMeta:
        data = json.loads(raw)
        for key in _TIMES:
            if data.get(key) is not None:
                data[key] = parse_rfc3339(data[key])
        known = ChunkMeta.__dataclass_fields__
        return ChunkMeta(**{k: v for k, v in data.items() if k in known})

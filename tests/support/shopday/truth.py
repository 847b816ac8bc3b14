"""The ground truth of a shop day, and its JSON form (the cache's manifest and
the CLI's `truth.json` are the same document).

Instants are aware UTC datetimes to the microsecond. A turn's `start` is the
instant of its first speech sample and its `end` the instant just after its last
one (start + samples / rate), so `end - start` is its length; a dialogue spans
its first turn's start to its last turn's end. `chunks` lists the indexes of the
chunks a dialogue overlaps: more than one means it crosses a boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from salescontrol.recorder.times import parse_rfc3339, rfc3339

FORMAT = "shopday/1"


@dataclass(frozen=True)
class Chunk:
    index: int
    path: Path
    start: datetime
    end: datetime
    """The instant after its last sample: the next chunk's start."""
    samples: int
    duration_s: float
    """As ffprobe measures the encoded file."""


@dataclass(frozen=True)
class TurnTruth:
    who: str
    text: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class DialogueTruth:
    id: str
    silence_before_s: float
    turns: tuple[TurnTruth, ...]
    upsell: dict[str, Any]
    """The labels as the script gives them."""
    chunks: tuple[int, ...]

    @property
    def start(self) -> datetime:
        return self.turns[0].start

    @property
    def end(self) -> datetime:
        return self.turns[-1].end

    @property
    def reference_text(self) -> str:
        """The dialogue's words, turn after turn: the reference for WER."""
        return " ".join(turn.text for turn in self.turns)

    @property
    def crosses_boundary(self) -> bool:
        return len(self.chunks) > 1


@dataclass(frozen=True)
class ShopDay:
    folder: Path
    business: str
    start: datetime
    end: datetime
    sample_rate: int
    chunk_s: int
    chunks: tuple[Chunk, ...]
    dialogues: tuple[DialogueTruth, ...]
    params: dict[str, Any]

    @property
    def audio_path(self) -> Path:
        """The whole day as 16-bit mono WAV, before encoding."""
        return self.folder / "day.wav"

    def dialogue(self, dialogue_id: str) -> DialogueTruth:
        return next(d for d in self.dialogues if d.id == dialogue_id)

    def to_json(self) -> dict[str, Any]:
        """The document, file paths relative to `folder`."""
        return {
            "format": FORMAT,
            "business": self.business,
            "start": rfc3339(self.start),
            "end": rfc3339(self.end),
            "sample_rate": self.sample_rate,
            "chunk_s": self.chunk_s,
            "chunks": [
                {
                    "index": c.index,
                    "file": c.path.relative_to(self.folder).as_posix(),
                    "start": rfc3339(c.start),
                    "end": rfc3339(c.end),
                    "samples": c.samples,
                    "duration_s": c.duration_s,
                }
                for c in self.chunks
            ],
            "dialogues": [
                {
                    "id": d.id,
                    "start": rfc3339(d.start),
                    "end": rfc3339(d.end),
                    "silence_before_s": d.silence_before_s,
                    "chunks": list(d.chunks),
                    "upsell": d.upsell,
                    "reference_text": d.reference_text,
                    "turns": [
                        {
                            "who": t.who,
                            "text": t.text,
                            "start": rfc3339(t.start),
                            "end": rfc3339(t.end),
                        }
                        for t in d.turns
                    ],
                }
                for d in self.dialogues
            ],
            "params": self.params,
        }

    @staticmethod
    def from_json(data: dict[str, Any], folder: Path) -> ShopDay:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document: {data.get('format')!r}")
        rate = int(data["sample_rate"])
        chunks = tuple(
            Chunk(
                c["index"],
                folder / c["file"],
                parse_rfc3339(c["start"]),
                parse_rfc3339(c["end"]),
                c["samples"],
                c["duration_s"],
            )
            for c in data["chunks"]
        )
        dialogues = tuple(
            DialogueTruth(
                d["id"],
                d["silence_before_s"],
                tuple(
                    TurnTruth(
                        t["who"], t["text"], parse_rfc3339(t["start"]), parse_rfc3339(t["end"])
                    )
                    for t in d["turns"]
                ),
                d["upsell"],
                tuple(d["chunks"]),
            )
            for d in data["dialogues"]
        )
        return ShopDay(
            folder,
            data["business"],
            parse_rfc3339(data["start"]),
            parse_rfc3339(data["end"]),
            rate,
            data["chunk_s"],
            chunks,
            dialogues,
            data["params"],
        )

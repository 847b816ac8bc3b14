"""The demo's audio: the synthesized shop day of the test tree, as plain typed data.

The day is built by `tests.support.shopday` (festival, sox, ffmpeg) from
`../shared/salescontrol/dialogues_dev.yaml` and cached under `.cache/shopday`.
The test tree is not part of the wheel, and no package may import it statically
(an import-linter contract), so it is imported by name, only when the demo runs,
and only in a development checkout (the project installed editable in compat
mode, which puts the checkout's root on the path). Everything the demo needs is
copied out into the dataclasses below, so the rest of the demo is typed and does
not depend on the test tree's classes.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

SCRIPT = ("salescontrol", "dialogues_dev.yaml")
"""The script's path under the shared data directory (tests.support.SHARED)."""


class DemoUnavailable(RuntimeError):
    """The demo cannot be built on this machine; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class SourceChunk:
    index: int
    path: Path
    start: datetime
    end: datetime
    sha256: str


@dataclass(frozen=True, slots=True)
class SourceTurn:
    who: str
    """seller or customer"""
    text: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class SourceDialogue:
    id: str
    turns: tuple[SourceTurn, ...]
    labels: dict[str, Any]
    """The script's upsell labels: attempted, categories, customer_reaction, quality."""
    chunks: tuple[int, ...]
    """The indexes of the chunks it overlaps."""

    @property
    def start(self) -> datetime:
        return self.turns[0].start

    @property
    def end(self) -> datetime:
        return self.turns[-1].end

    def shifted(self, offset: timedelta) -> SourceDialogue:
        """The same dialogue `offset` later (a copy of the day at another time)."""
        turns = tuple(
            SourceTurn(t.who, t.text, t.start + offset, t.end + offset) for t in self.turns
        )
        return SourceDialogue(self.id, turns, self.labels, self.chunks)


@dataclass(frozen=True, slots=True)
class SourceDay:
    business: str
    chunks: tuple[SourceChunk, ...]
    dialogues: tuple[SourceDialogue, ...]

    def chunk_by_sha(self) -> dict[str, SourceChunk]:
        return {c.sha256: c for c in self.chunks}


def _shopday() -> tuple[Any, Path]:
    """The `tests.support.shopday` module and the shared data directory."""
    try:
        support = importlib.import_module("tests.support")
        shopday = importlib.import_module("tests.support.shopday")
    except ImportError as exc:
        raise DemoUnavailable(
            "the demo needs a development checkout (tests.support.shopday is not "
            f"importable: {exc}); install it with `make salescontrol`"
        ) from None
    return shopday, Path(support.SHARED)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_source_day() -> SourceDay:
    """Build (or read from the cache) the shop day; DemoUnavailable when this
    machine lacks the test tree, the shared script or the synthesis tools."""
    shopday, shared = _shopday()
    script = shared.joinpath(*SCRIPT)
    if not script.is_file():
        raise DemoUnavailable(f"the demo's script {script} is missing (the shared data)")
    missing = shopday.missing_tools()
    if missing:
        raise DemoUnavailable(
            f"the demo synthesizes its audio, but this machine lacks {', '.join(missing)} "
            "(Debian: apt install festival festvox-ru sox ffmpeg)"
        )
    day = shopday.build_shop_day(script)
    return SourceDay(
        business=day.business,
        chunks=tuple(
            SourceChunk(c.index, c.path, c.start, c.end, _sha256(c.path)) for c in day.chunks
        ),
        dialogues=tuple(
            SourceDialogue(
                d.id,
                tuple(SourceTurn(t.who, t.text, t.start, t.end) for t in d.turns),
                dict(d.upsell),
                tuple(d.chunks),
            )
            for d in day.dialogues
        ),
    )

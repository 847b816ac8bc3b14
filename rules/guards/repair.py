"""Clauses of a sentence, so a repair can cut the one that states something
unfounded ("Комплект PRO — 360 000 ₸, а Standard — 360 000 ₸") and keep the
grounded rest, rather than the whole sentence or the whole answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Where a clause ends: a comma or a dash before a conjunction, a semicolon.
_BOUNDARY = re.compile(r"\s*(?:;|,\s*(?=(?:а|но|и|или|причём|плюс)\s)|\s[—–]\s(?=(?:а|но|и)\s))\s*")
_JOINER = re.compile(r"^(?:а|но|и|или|причём|плюс)\s+", re.IGNORECASE)
_END = re.compile(r"[.!?…]+$")


@dataclass(frozen=True, slots=True)
class Clause:
    text: str


def clauses_of(sentence: str) -> list[Clause]:
    """The clauses of `sentence`, the end mark kept on none of them."""
    body = _END.sub("", sentence.strip())
    return [Clause(part.strip()) for part in _BOUNDARY.split(body) if part.strip()]


def join_clauses(kept: Sequence[Clause], sentence: str) -> str:
    """The kept clauses as one sentence: the first without a leading conjunction,
    capitalized, ending with the sentence's own end mark."""
    if not kept:
        return ""
    end = _END.search(sentence.strip())
    first = _JOINER.sub("", kept[0].text)
    parts = [first[:1].upper() + first[1:], *(c.text for c in kept[1:])]
    return ", ".join(parts) + (end.group(0) if end else ".")

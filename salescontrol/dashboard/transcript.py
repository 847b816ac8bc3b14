"""A transcript as its page shows it: one line per segment with the time it starts
(relative to the dialogue's start, so the audio player can seek to it) and the
analysis' evidence quotes marked.

A quote is found the way the analysis checked it (salescontrol.pipeline.analysis
.schema.occurs): as a run of whole words, case, ё/е, punctuation and spacing
ignored — so it is found even when it runs over the border of two segments, and
each segment marks its part of it. Everything else is escaped: a transcript is
text, never markup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

_WORD = re.compile(r"[^\W_]+")
_MARK = Markup('<mark class="evidence">{}</mark>')


@dataclass(frozen=True, slots=True)
class Line:
    start_s: float
    html: Markup


@dataclass(frozen=True, slots=True)
class _Word:
    line: int
    start: int
    end: int
    key: str


def _key(word: str) -> str:
    return word.casefold().replace("ё", "е")


def _seconds(value: Any) -> float:
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return 0.0


def _found(words: Sequence[_Word], quote: str) -> Iterable[tuple[int, int]]:
    """Index ranges [first, last] of `words` that spell `quote`."""
    needle = [_key(m.group()) for m in _WORD.finditer(quote)]
    if not needle:
        return
    keys = [w.key for w in words]
    for first in range(len(keys) - len(needle) + 1):
        if keys[first : first + len(needle)] == needle:
            yield first, first + len(needle) - 1


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _markup(text: str, spans: list[tuple[int, int]]) -> Markup:
    parts: list[Markup] = []
    at = 0
    for start, end in _merged(spans):
        parts.append(escape(text[at:start]))
        parts.append(_MARK.format(text[start:end]))
        at = end
    parts.append(escape(text[at:]))
    return Markup("").join(parts)


def transcript_lines(segments: Sequence[dict[str, Any]], quotes: Sequence[str]) -> list[Line]:
    """The segments with text, in order, with the quotes marked."""
    texts: list[str] = []
    starts: list[float] = []
    for segment in segments:
        text = str(segment.get("text") or "").strip()
        if text:
            texts.append(text)
            starts.append(_seconds(segment.get("start_s")))
    words = [
        _Word(line, m.start(), m.end(), _key(m.group()))
        for line, text in enumerate(texts)
        for m in _WORD.finditer(text)
    ]
    spans: list[list[tuple[int, int]]] = [[] for _ in texts]
    for quote in quotes:
        for first, last in _found(words, str(quote)):
            # Per line, from the quote's first word on it to its last word on it.
            by_line: dict[int, tuple[int, int]] = {}
            for word in words[first : last + 1]:
                start, _ = by_line.get(word.line, (word.start, word.end))
                by_line[word.line] = (start, word.end)
            for line, span in by_line.items():
                spans[line].append(span)
    return [
        Line(start, _markup(text, line_spans))
        for start, text, line_spans in zip(starts, texts, spans, strict=True)
    ]

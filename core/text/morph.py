"""The process-wide pymorphy3 analyzer and word lists written as text blocks."""

from __future__ import annotations

import threading

import pymorphy3

_morph: pymorphy3.MorphAnalyzer | None = None
_morph_lock = threading.Lock()


def morph() -> pymorphy3.MorphAnalyzer:
    """The process-wide morphological analyzer (loaded once, on first use)."""
    global _morph
    if _morph is None:
        with _morph_lock:
            if _morph is None:
                _morph = pymorphy3.MorphAnalyzer()
    return _morph


def word_set(block: str) -> frozenset[str]:
    """A word list written as a block of whitespace-separated words."""
    return frozenset(block.split())

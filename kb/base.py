"""The KnowledgeBase object the graph talks to.

Minimal lexical search (word-prefix overlap) until the BM25/dense retrieval lands;
the interface is the final one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from kb.loader import BUNDLED_KB, load_sections
from kb.types import Hit, Section

_WORD = re.compile(r"[0-9a-zа-я]+")


def _stems(text: str) -> set[str]:
    text = text.lower().replace("ё", "е")
    return {w[:5] for w in _WORD.findall(text) if len(w) > 2}


class KnowledgeBase:
    def __init__(self, sections: list[Section], min_score: float = 0.2):
        self.sections = sections
        self.min_score = min_score
        self._index = [
            (s, _stems(" ".join((s.topic.replace("_", " "), *s.keywords, s.facts))))
            for s in sections
        ]

    def search(self, query: str, k: int = 5, categories: Sequence[str] | None = None) -> list[Hit]:
        terms = _stems(query)
        if not terms:
            return []
        scored = []
        for section, stems in self._index:
            score = len(terms & stems) / len(terms)
            if categories and section.category in categories:
                score *= 1.1
            if score >= self.min_score:
                scored.append((min(score, 1.0), section))
        scored.sort(key=lambda pair: (-pair[0], -pair[1].priority))
        return [
            Hit(topic=s.topic, category=s.category, facts=s.facts, score=score)
            for score, s in scored[:k]
        ]


def open_kb(path: str | Path | None = None, min_score: float = 0.2) -> KnowledgeBase:
    return KnowledgeBase(load_sections(path or BUNDLED_KB), min_score=min_score)

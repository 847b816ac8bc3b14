"""Value types of the knowledge base: a section as written in YAML, and a search hit."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Section:
    """One KB section: `{topic, priority, keywords, facts}` from a category file."""

    topic: str
    category: str
    priority: int
    keywords: tuple[str, ...]
    facts: str
    """What the LLM may see: the YAML facts without editor notes."""
    notes: tuple[str, ...] = ()
    """Editor notes ("⚠️ НЕ ПУТАТЬ: …") cut out of the facts; never shown to the LLM."""
    source: str = ""
    """File the section came from, for error messages and `kb check`."""


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result handed to the graph: the facts to show the LLM and why."""

    topic: str
    category: str
    facts: str
    score: float
    """Relevance in [0, 1]; comparable across queries, so a floor can be applied."""
    extra: dict[str, float] = field(default_factory=dict, compare=False)
    """Per-retriever scores (bm25, dense) for diagnostics."""

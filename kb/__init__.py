"""Knowledge base: YAML loading and validation, indexes, and `search()`.

The graph's retrieve node depends only on `KnowledgeBase.search(query, k,
categories=None) -> list[Hit]`; everything else here is an implementation detail.
"""

from kb.base import KnowledgeBase, open_kb
from kb.types import Hit, Section

__all__ = ["Hit", "KnowledgeBase", "Section", "open_kb"]

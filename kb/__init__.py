"""Knowledge base: YAML loading and validation, indexes, and `search()`.

The graph depends on `KnowledgeBase.search(query, k, categories=None) -> list[Hit]`,
on `open_kb(settings.kb, dense=...)` to build one, and on `KBHolder` to swap in an
edited KB without a restart; everything else here is an implementation detail.
"""

from kb.base import KnowledgeBase, open_kb
from kb.dense import DenseUnavailable
from kb.holder import KBHolder, RetrievalStatus
from kb.loader import KBError, read_kb
from kb.types import Hit, Section

__all__ = [
    "DenseUnavailable",
    "Hit",
    "KBError",
    "KBHolder",
    "KnowledgeBase",
    "RetrievalStatus",
    "Section",
    "open_kb",
    "read_kb",
]

"""Model replies as a well-behaved model would send them, for scripted stubs."""

from __future__ import annotations

import json
from typing import Any


def analysis(intent: str = "product_question", **fields: Any) -> str:
    """A well-formed analysis reply (the JSON the structured call asks for)."""
    body: dict[str, Any] = {
        "intent": intent,
        "objection_type": None,
        "profile": {},
        "search_query": "",
        "next_phase": "discovery",
        "frustrated": False,
    }
    body.update(fields)
    return json.dumps(body, ensure_ascii=False)

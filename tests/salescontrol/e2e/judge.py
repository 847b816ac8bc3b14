"""The Ollama stub's stand-in for the upsell judge in the end-to-end runs: it reads
the transcript out of the prompt and answers a valid, deterministic judgement whose
evidence is a verbatim quote — the plumbing is under test, not a model's opinion."""

from __future__ import annotations

import json
import re
from typing import Any

_TRANSCRIPT = re.compile(r"<<<\n(.*)\n>>>", re.S)
# Words a seller's offer usually has; a crude rule, deterministic on purpose.
_OFFER = re.compile(r"\b(может|хотите|возьм[её]те|добавить|сделать|оформить|большой)\b", re.I)


def upsell_reply(request: dict[str, Any]) -> str:
    prompt = str(request["messages"][-1]["content"])
    found = _TRANSCRIPT.search(prompt)
    transcript = found.group(1) if found else ""
    words = transcript.split()
    quote = " ".join(words[:3])
    offered = _OFFER.search(transcript) is not None
    return json.dumps(
        {
            "evidence": [quote] if quote else [],
            "closing_question": None,
            "attempted": "uncertain" if offered else "no",
            "categories": [],
            "quality": 0,
            "customer_reaction": "unclear" if offered else "none",
            "summary": "Проверка конвейера.",
            "confidence": 0.5,
        },
        ensure_ascii=False,
    )

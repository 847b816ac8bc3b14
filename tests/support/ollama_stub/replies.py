"""Replies a stub gives when no script says otherwise: schema-shaped JSON for
structured calls and a fixed Russian sentence for answers (`canned_reply`), an
analysis that searches the KB for the message (`searching_reply`), or a file's
text (`file_reply`)."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

CANNED_ANSWER = "Спасибо за сообщение №{n}! Подскажите, пожалуйста, чем занимается ваш бизнес?"


def fill_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """The smallest value that satisfies a JSON schema (first enum values, empty strings)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return fill_schema(defs[schema["$ref"].split("/")[-1]], defs)
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = schema[key]
            if any(o.get("type") == "null" for o in options):
                return None
            return fill_schema(options[0], defs)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: fill_schema(sub, defs) for name, sub in props.items()}
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}.get(str(kind))


def canned_reply(request: dict[str, Any]) -> str:
    """Schema-shaped JSON for structured calls; otherwise a fixed Russian answer
    that varies by a counter, so that the bot's repetition guard stays quiet."""
    schema = request.get("format")
    if isinstance(schema, dict):
        return json.dumps(fill_schema(schema), ensure_ascii=False)
    return CANNED_ANSWER.format(n=next(_answers))


_answers = itertools.count(1)


def searching_reply(request: dict[str, Any]) -> str:
    """Like canned_reply, but a structured reply that has a `search_query` asks the
    KB about the customer's message (the last line of the last prompt message, where
    the analysis prompt puts it), with the intent "unclear": the stub cannot tell a
    question from a statement, and a question the KB cannot answer would send every
    draft back to the model. Benchmarks use it so that their turns search the KB and
    put facts into the answer prompt, as real turns do."""
    schema = request.get("format")
    if not isinstance(schema, dict):
        return canned_reply(request)
    value = fill_schema(schema)
    properties = schema.get("properties", {})
    if isinstance(value, dict) and "search_query" in properties:
        messages = request.get("messages") or [{}]
        lines = str(messages[-1].get("content", "")).strip().splitlines()
        value["search_query"] = lines[-1] if lines else ""
        if "unclear" in properties.get("intent", {}).get("enum", []):
            value["intent"] = "unclear"
    return json.dumps(value, ensure_ascii=False)


def file_reply(path: str) -> Callable[[dict[str, Any]], str]:
    """Like canned_reply, but free-text calls get the text of `path` when it exists
    and is not empty, read anew on every call."""

    def reply(request: dict[str, Any]) -> str:
        if not isinstance(request.get("format"), dict):
            with contextlib.suppress(OSError):
                text = Path(path).read_text(encoding="utf-8").strip()
                if text:
                    return text
        return canned_reply(request)

    return reply

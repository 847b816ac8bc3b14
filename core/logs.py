"""JSON logs that carry ids, timings and codes — never the conversation.

Customer ids are phone numbers, so they are logged as short keyed hashes;
message text and answers appear only when LOG_CONVERSATION_TEXT=true.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_HANDLER_NAME = "json-stderr"


_NONE: Mapping[str, Any] = MappingProxyType({})
_context: ContextVar[Mapping[str, Any]] = ContextVar("log_context", default=_NONE)


def begin_context() -> Token[Mapping[str, Any]]:
    """Start an empty set of fields for what follows (one HTTP request); every log
    record made until `end_context` carries the fields `bind` adds."""
    return _context.set({})


def end_context(token: Token[Mapping[str, Any]]) -> None:
    _context.reset(token)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """`fields` on every record made inside the block (a worker's job)."""
    token = begin_context()
    bind(**fields)
    try:
        yield
    finally:
        end_context(token)


def bind(**fields: Any) -> None:
    """Add fields to every later record of the current context (a request's ids)."""
    current = _context.get()
    if isinstance(current, dict):
        current.update(fields)
    else:
        _context.set(dict(fields))


def _with_context(factory: Any) -> Any:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = factory(*args, **kwargs)
        for name, value in _context.get().items():
            setattr(record, name, value)
        return record

    make.with_log_context = True  # type: ignore[attr-defined]
    return make


if not getattr(logging.getLogRecordFactory(), "with_log_context", False):
    logging.setLogRecordFactory(_with_context(logging.getLogRecordFactory()))


def hash_id(value: str, key: str) -> str:
    """A short HMAC of an id, keyed with a secret (the service's API key): the same
    customer gets the same tag in every log line, but a plain or publicly salted
    hash of a phone number is reversed by hashing every possible number, which
    takes seconds."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:12]


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Replace our own handler (an app created twice in one process) and
    # Python's default one, but keep handlers others installed (pytest's caplog).
    root.handlers[:] = [
        h
        for h in root.handlers
        if h.get_name() != _HANDLER_NAME and type(h) is not logging.StreamHandler
    ]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Third-party request logs would print URLs and bodies at DEBUG; keep them quiet.
    # bm25s sets its own logger to DEBUG and would print on every search.
    for noisy in ("httpx", "httpcore", "aiosqlite", "uvicorn.access", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

"""On-disk cache of built indexes, keyed by what they were built from.

An entry is a directory ``<cache_dir>/<kind>-<key>`` where the key hashes the KB
content and everything that shapes the index (code versions, model, prefixes), so
an edited KB or a new model simply misses the cache and is re-indexed; nothing is
ever invalidated by hand. Entries are written to a temporary directory and renamed
into place, so a crash or a concurrent builder never leaves a half-written entry
that a later start would trust. Settings hand over an absolute ``cache_dir``
(core.paths says how relative ones are resolved).

The cache is an optimization: any failure to read or write it is logged and the
index is built in memory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
KEEP_ENTRIES = 3
"""Entries of one kind kept after a new one is written (older KB versions)."""


def cache_key(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()[:24]


def resolve_cache_dir(cache_dir: str | Path | None) -> Path | None:
    """The absolute cache directory, or None when caching is off (empty setting)."""
    if cache_dir is None or str(cache_dir).strip() == "":
        return None
    return Path(cache_dir).expanduser().resolve()


def cached(
    root: Path | None,
    kind: str,
    key: str,
    build: Callable[[], T],
    save: Callable[[T, Path], None],
    load: Callable[[Path], T],
) -> tuple[T, bool]:
    """Load the entry for `key`, or build it and store it. Returns (value, from_cache)."""
    if root is None:
        return build(), False
    entry = root / f"{kind}-{key}"
    if (entry / "COMPLETE").is_file():
        try:
            return load(entry), True
        except Exception as exc:  # a damaged entry must not stop the service
            log.warning("kb cache: entry %s unreadable (%s); rebuilding", entry.name, exc)
            shutil.rmtree(entry, ignore_errors=True)
    value = build()
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=root))
        try:
            save(value, tmp)
            (tmp / "COMPLETE").write_text(key, encoding="utf-8")
            os.rename(tmp, entry)
        except OSError:
            # Another process published the same entry first: theirs is as good.
            shutil.rmtree(tmp, ignore_errors=True)
            if not (entry / "COMPLETE").is_file():
                raise
        _prune(root, kind, keep=entry)
    except Exception as exc:
        log.warning("kb cache: cannot write %s under %s (%s); continuing", kind, root, exc)
    return value, False


def _prune(root: Path, kind: str, keep: Path) -> None:
    entries = sorted(
        (p for p in root.glob(f"{kind}-*") if p.is_dir() and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in entries[KEEP_ENTRIES - 1 :]:
        shutil.rmtree(old, ignore_errors=True)

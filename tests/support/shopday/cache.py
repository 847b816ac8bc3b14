"""Where built days are kept: one folder per key, published whole or not at all.

The key hashes the script's bytes, every `DayParams` field and the source of the
code that makes a day (this package and the number spelling it borrows), so a
change of code never serves a day that the old code built. A day is built in a
temporary sibling folder and renamed into place, so a reader sees either no
folder or a complete one; an exclusive lock per key makes a second process wait
for the first one's build instead of repeating it, and the rename keeps things
safe even where locks are not honoured (the loser's copy is dropped).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.support import ROOT, wer
from tests.support.shopday.params import DayParams
from tests.support.shopday.truth import ShopDay

MANIFEST = "truth.json"
STALE_S = 3600


def default_cache_dir() -> Path:
    return ROOT / ".cache" / "shopday"


@functools.cache
def code_digest() -> str:
    """A hash of the modules whose behaviour shapes a built day."""
    digest = hashlib.sha256()
    for module in [*sorted(Path(__file__).parent.glob("*.py")), Path(wer.__file__)]:
        digest.update(module.name.encode() + b"\0" + module.read_bytes())
    return digest.hexdigest()


def day_key(script: bytes, params: DayParams) -> str:
    material = {
        "code": code_digest(),
        "script": hashlib.sha256(script).hexdigest(),
        "params": params.key_data(),
    }
    blob = json.dumps(material, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def load(folder: Path) -> ShopDay | None:
    """The day published in `folder`, or None when there is none."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return ShopDay.from_json(data, folder)


@contextlib.contextmanager
def locked(cache_dir: Path, key: str) -> Iterator[None]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f".{key}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def staging(cache_dir: Path, key: str) -> Iterator[Path]:
    """A fresh temporary folder beside the final one, removed afterwards."""
    _drop_stale(cache_dir)
    tmp = cache_dir / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(tmp: Path, folder: Path) -> None:
    """Move a complete build into place, unless another process already did."""
    try:
        os.rename(tmp, folder)
    except OSError:
        if load(folder) is None:
            raise


def _drop_stale(cache_dir: Path) -> None:
    """Temporary folders of builds that died long ago."""
    cutoff = time.time() - STALE_S
    for tmp in cache_dir.glob(".tmp-*"):
        with contextlib.suppress(OSError):
            if tmp.stat().st_mtime < cutoff:
                shutil.rmtree(tmp, ignore_errors=True)

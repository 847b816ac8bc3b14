"""Where the project's default files live.

Every default path is under the project directory (the checkout, where
settings.yaml is), whatever the working directory: settings.yaml, the SQLite
file `data/conversations.db`, the index cache `.cache/kb`. A relative path in
settings.yaml is relative to that file's directory; a path given in an
environment variable is used as given (relative to the working directory, as
for any command).
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETTINGS_PATH = PROJECT_ROOT / "settings.yaml"
DEFAULT_DB_PATH = PROJECT_ROOT / "data" / "conversations.db"
DEFAULT_AUDIO_DIR = PROJECT_ROOT / "data" / "audio"
"""SalesControl's uploaded chunks."""
DEFAULT_PG_DIR = PROJECT_ROOT / "data" / "pg"
"""SalesControl's embedded PostgreSQL cluster in development."""


def relative_to(base: Path, path: str | Path) -> Path:
    """`path` as is when absolute (or "~/..."), else under `base`."""
    expanded = Path(path).expanduser()
    return expanded if expanded.is_absolute() else base / expanded

"""The agent's version for the heartbeat: the project's version and the commit.

On the Pi the agent runs from a git checkout with a venv of three dependencies,
not from an installed package, so both are read from the checkout's files
(pyproject.toml, .git) without running git.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]


def _commit(git: Path) -> str | None:
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:7]
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip()[:7]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line[:7]
    except OSError:
        return None
    return None


@cache
def agent_version() -> str:
    try:
        version = str(
            tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["project"]["version"]
        )
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        version = "0"
    commit = _commit(CHECKOUT / ".git")
    return f"{version}+g{commit}" if commit else version

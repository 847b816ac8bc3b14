"""The dashboard as its users get it: `salescontrol serve` as a real process on the
embedded PostgreSQL, filled by `salescontrol demo` (the synthesized shop day laid
over a few days), with an admin and a viewer of the tests' own."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from salescontrol.accounts import add_user
from tests.salescontrol.pg import Cluster
from tests.salescontrol.server import IngestProcess
from tests.support import ROOT

ADMIN = ("t-admin", "admin-password-1")
VIEWER = ("t-viewer", "viewer-password-1")
DEMO_DAYS = 2
LOGINS_PER_MINUTE = 1000
"""The browser tests log the same users in from one address many times a minute;
the production limit (10) is tested by tests/salescontrol/ingest/test_auth.py."""


@dataclass
class Site:
    url: str
    database_url: str
    audio_dir: Path
    screenshots: Path
    process: IngestProcess
    users: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {"admin": ADMIN, "viewer": VIEWER}
    )


def screenshot_dir() -> Path:
    """Where the browser tests save what they saw: outside git (build/ is ignored)."""
    root = Path(
        os.environ.get("SCREENSHOT_DIR", Path(__file__).parents[3] / "build" / "screenshots")
    )
    root.mkdir(parents=True, exist_ok=True)
    return root


def site_settings(path: Path) -> Path:
    """settings.yaml with the login limit raised for the browser tests."""
    data = yaml.safe_load((ROOT / "settings.yaml").read_text(encoding="utf-8"))
    data["salescontrol"]["auth"]["logins_per_minute"] = LOGINS_PER_MINUTE
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def start_site(cluster: Cluster) -> Site:
    database_url = asyncio.run(cluster.fresh_database())
    audio_dir = Path(tempfile.mkdtemp(prefix="salescontrol-dashboard-audio-"))
    env = {**os.environ, "DATABASE_URL": database_url, "SALESCONTROL_AUDIO_DIR": str(audio_dir)}
    demo = subprocess.run(
        [sys.executable, "-m", "salescontrol", "demo", "--days", str(DEMO_DAYS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if demo.returncode != 0:
        raise RuntimeError(f"salescontrol demo failed:\n{demo.stdout}\n{demo.stderr}")
    for role, (login, password) in (("admin", ADMIN), ("viewer", VIEWER)):
        asyncio.run(add_user(database_url, login, password, role))
    log = audio_dir.parent / f"{audio_dir.name}.log"
    settings = site_settings(audio_dir.parent / f"{audio_dir.name}.settings.yaml")
    process = IngestProcess(
        database_url, audio_dir, log, LOG_LEVEL="WARNING", SETTINGS_PATH=str(settings)
    )
    process.start()
    return Site(process.url, database_url, audio_dir, screenshot_dir(), process)


def stop_site(site: Site, cluster: Cluster) -> None:
    site.process.stop()
    asyncio.run(cluster.drop(site.database_url))
    shutil.rmtree(site.audio_dir, ignore_errors=True)
    site.audio_dir.with_name(f"{site.audio_dir.name}.settings.yaml").unlink(missing_ok=True)

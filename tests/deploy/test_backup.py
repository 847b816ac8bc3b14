"""deploy/backup.sh and deploy/restore.sh on real SQLite files.

The backup runs against a WAL database while another thread keeps committing,
as the service does, with the sqlite3 CLI and with the python3 fallback; the copy
must be a consistent snapshot that passes PRAGMA integrity_check. The restore
runs its steps with the service part switched off (or with a stand-in
`systemctl` that records its calls), including a crashed service's leftover -wal.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.systemd import fake_bin

BACKUP = ROOT / "deploy" / "backup.sh"
RESTORE = ROOT / "deploy" / "restore.sh"
SQLITE3_CLI = shutil.which("sqlite3")

# Both ways to take the copy: the CLI's VACUUM INTO and python3's Connection.backup.
TOOLS = [
    pytest.param(
        "cli",
        marks=pytest.mark.skipif(SQLITE3_CLI is None, reason="the sqlite3 CLI is not installed"),
    ),
    pytest.param("python"),
]


def tool_env(tool: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DB_PATH", "BACKUP_DIR"}}
    env["SQLITE3"] = (SQLITE3_CLI or "") if tool == "cli" else ""
    env["PYTHON"] = sys.executable
    env.update(extra)
    return env


def run(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, timeout=120, env=env
    )


def connect(path: Path) -> sqlite3.Connection:
    """Configured as the service configures its connections."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def make_db(path: Path, rows: int, label: str = "a") -> None:
    with connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS turns (id INTEGER PRIMARY KEY, label, payload)")
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO turns (label, payload) VALUES (?, ?)",
            ((label, os.urandom(500).hex()) for _ in range(rows)),
        )
        conn.execute("COMMIT")
    conn.close()


def rows_of(path: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT id, label FROM turns ORDER BY id").fetchall()
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


class Writer:
    """Commits one row per transaction until stopped, like customer turns."""

    def __init__(self, path: Path):
        self.path = path
        self.committed = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn = connect(self.path)
        try:
            while not self._stop.is_set():
                conn.execute(
                    "INSERT INTO turns (label, payload) VALUES ('live', ?)",
                    (os.urandom(500).hex(),),
                )
                self.committed += 1
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            conn.close()

    def wait_for(self, rows: int) -> None:
        deadline = time.monotonic() + 30
        while self.committed < rows and time.monotonic() < deadline and not self.errors:
            time.sleep(0.01)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.fixture
def live_db(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "conversations.db"
    make_db(db, rows=4000)  # a few MB, so that the copy takes a moment
    yield db


# --- backup.sh ----------------------------------------------------------------


@pytest.mark.parametrize("tool", TOOLS)
def test_backup_of_a_live_database_is_a_consistent_snapshot(
    tool: str, live_db: Path, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    with Writer(live_db) as writer:
        writer.wait_for(200)
        before = 4000 + writer.committed
        done = run(BACKUP, str(live_db), str(backups), env=tool_env(tool))
        after = 4000 + writer.committed
        writer.wait_for(writer.committed + 200)  # the writer was never blocked for long
    assert not writer.errors, writer.errors
    assert done.returncode == 0, done.stderr
    copy = Path(done.stdout.strip())
    assert copy.parent == backups and copy.name.startswith("conversations-")

    assert integrity(copy) == "ok"
    rows = rows_of(copy)
    # Everything committed before the backup started, nothing half-written:
    # ids are 1..n without a gap, n between the counts before and after.
    assert before <= len(rows) <= after
    assert [row[0] for row in rows] == list(range(1, len(rows) + 1))
    # A self-contained file: DELETE journal mode, no -wal beside it, private.
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not Path(f"{copy}-wal").exists()
    assert stat.S_IMODE(copy.stat().st_mode) & 0o077 == 0
    assert not list(backups.glob(".*.partial"))


@pytest.mark.parametrize("tool", TOOLS)
def test_backup_rotation_keeps_the_newest_copies(tool: str, live_db: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    made = []
    for _ in range(3):  # the default BACKUP_KEEP (14) keeps them all
        done = run(BACKUP, env=tool_env(tool, DB_PATH=str(live_db), BACKUP_DIR=str(backups)))
        assert done.returncode == 0, done.stderr
        made.append(Path(done.stdout.strip()))
    assert sorted(backups.glob("conversations-*.db")) == made
    done = run(BACKUP, str(live_db), str(backups), env=tool_env(tool, BACKUP_KEEP="2"))
    assert done.returncode == 0, done.stderr
    assert sorted(backups.glob("conversations-*.db")) == [made[-1], Path(done.stdout.strip())]


def test_backup_refuses_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "conversations.db"
    done = run(BACKUP, str(missing), str(tmp_path / "backups"), env=tool_env("python"))
    assert done.returncode != 0
    assert "does not exist" in done.stderr
    assert not missing.exists()  # sqlite would have created an empty one
    usage = run(BACKUP, env=tool_env("python"))
    assert usage.returncode != 0 and "usage:" in usage.stderr


# --- restore.sh ---------------------------------------------------------------


def crash_leaving_a_wal(db: Path, rows: int) -> None:
    """Commit `rows` more rows and die without closing: they stay in the -wal
    file, not checkpointed, as after a kill -9 of the service."""
    code = f"""
import os, sqlite3
conn = sqlite3.connect({str(db)!r}, isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA wal_autocheckpoint=0")
conn.execute("BEGIN")
for _ in range({rows}):
    conn.execute("INSERT INTO turns (label, payload) VALUES ('after-backup', 'x')")
conn.execute("COMMIT")
os._exit(0)
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert Path(f"{db}-wal").stat().st_size > 0


@pytest.fixture
def backed_up(live_db: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(live database, its backup); the live database then moved on and crashed."""
    done = run(BACKUP, str(live_db), str(tmp_path / "backups"), env=tool_env("python"))
    assert done.returncode == 0, done.stderr
    crash_leaving_a_wal(live_db, rows=50)
    return live_db, Path(done.stdout.strip())


@pytest.mark.parametrize("tool", TOOLS)
def test_restore_puts_the_backup_in_place_and_keeps_the_old_files(
    tool: str, backed_up: tuple[Path, Path]
) -> None:
    db, backup = backed_up
    done = run(RESTORE, "--no-service", str(backup), str(db), env=tool_env(tool))
    assert done.returncode == 0, done.stderr

    # The stale -wal of the old database was not replayed onto the restored one.
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    assert integrity(db) == "ok"
    assert len(rows_of(db)) == 4000
    assert all(label == "a" for _, label in rows_of(db))

    # Nothing is lost: the old file and its -wal, side by side again, hold the
    # 50 turns written after the backup.
    aside = sorted(db.parent.glob("conversations.db*.before-restore-*"))
    assert {p.name.split(".before-restore-")[0] for p in aside} >= {
        "conversations.db",
        "conversations.db-wal",
    }
    check = db.parent / "check"
    check.mkdir()
    for path in aside:
        shutil.copy(path, check / path.name.split(".before-restore-")[0])
    assert len(rows_of(check / "conversations.db")) == 4050


def test_restore_refuses_a_damaged_backup_and_touches_nothing(
    backed_up: tuple[Path, Path], tmp_path: Path
) -> None:
    db, _ = backed_up
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    before = sorted(p.name for p in db.parent.iterdir())
    done = run(RESTORE, "--no-service", str(damaged), str(db), env=tool_env("python"))
    assert done.returncode != 0
    assert "restore:" in done.stderr
    assert sorted(p.name for p in db.parent.iterdir()) == before


def test_restore_stops_and_starts_the_service(backed_up: tuple[Path, Path], tmp_path: Path) -> None:
    db, backup = backed_up
    bin_dir, log = fake_bin(tmp_path)
    env_file = tmp_path / "crm-sales-bot.env"
    env_file.write_text(f"API_KEY=x\nDB_PATH={db}\n", encoding="utf-8")
    env = tool_env(
        "python", PATH=f"{bin_dir}:{os.environ['PATH']}", ENV_FILE=str(env_file), SERVICE="bot"
    )
    done = run(RESTORE, str(backup), env=env)  # DB_PATH from the env file
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == ["stop bot", "is-active --quiet bot", "start bot"]
    assert len(rows_of(db)) == 4000


def test_restore_that_fails_midway_puts_everything_back(
    backed_up: tuple[Path, Path], tmp_path: Path
) -> None:
    db, backup = backed_up
    before = {p.name: p.stat().st_size for p in db.parent.iterdir()}
    bin_dir, log = fake_bin(tmp_path, failing_cp=True)
    env = tool_env("python", PATH=f"{bin_dir}:{os.environ['PATH']}", RESTORE_NO_SERVICE="0")
    done = run(RESTORE, str(backup), str(db), env=env)
    assert done.returncode != 0
    assert {p.name: p.stat().st_size for p in db.parent.iterdir()} == before
    # The service was stopped for the restore and is started again on the old data.
    assert log.read_text().splitlines() == [
        "stop crm-sales-bot",
        "is-active --quiet crm-sales-bot",
        "start crm-sales-bot",
    ]

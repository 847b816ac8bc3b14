"""systemd for the deployment tests: unit files read as systemd reads them,
`systemd-analyze verify`, and a stand-in `systemctl` that records its calls."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

Unit = dict[str, list[tuple[str, str]]]


def parse_unit(path: Path) -> Unit:
    """A systemd unit file as {section: [(key, value), ...]} (keys may repeat)."""
    sections: Unit = {}
    current: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def unit_values(unit: Unit, section: str, key: str) -> list[str]:
    return [value for name, value in unit.get(section, []) if name == key]


def unit_value(unit: Unit, section: str, key: str) -> str:
    values = unit_values(unit, section, key)
    assert len(values) == 1, f"[{section}] {key}= is set {len(values)} times, expected once"
    return values[0]


def unit_environment(unit: Unit) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in unit_values(unit, "Service", "Environment"):
        for assignment in value.split():
            name, _, val = assignment.partition("=")
            env[name] = val
    return env


def writable_paths(unit: Unit) -> list[str]:
    """What the service may write under ProtectSystem=strict."""
    paths: list[str] = []
    for key in ("BindPaths", "ReadWritePaths"):
        for value in unit_values(unit, "Service", key):
            paths.extend(p.lstrip("-") for p in value.split())
    return paths


def is_within(path: str, directory: str) -> bool:
    return Path(path) == Path(directory) or Path(directory) in Path(path).parents


def verify_units(directory: Path, names: Iterable[str]) -> None:
    """`systemd-analyze verify` of the units `names` in `directory`, which is also
    where systemd looks up the units they name (as /etc/systemd/system would be).
    Unknown keys or unparsable values are warnings with exit status 0, so the
    output must be empty too. Skips without systemd-analyze."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    checked = subprocess.run(
        [analyze, "verify", "--man=no", *(str(directory / name) for name in names)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{directory}:", "SYSTEMD_LOG_LEVEL": "notice"},
    )
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    assert output.strip() == "", output


def assert_persistent_timer(path: Path) -> None:
    """A timer that runs on a calendar, catches up after downtime, and is enabled
    with timers.target."""
    timer = parse_unit(path)
    assert unit_value(timer, "Timer", "OnCalendar")
    assert unit_value(timer, "Timer", "Persistent") == "true"
    assert unit_value(timer, "Install", "WantedBy") == "timers.target"


def fake_bin(tmp_path: Path, *, failing_cp: bool = False) -> tuple[Path, Path]:
    """A PATH entry with a `systemctl` that logs its calls (and the service is
    never active), optionally a `cp` that fails. Returns (bin dir, log)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "systemctl.log"
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(
        f'#!/bin/sh\necho "$*" >> {log}\n[ "$1" = is-active ] && exit 3\nexit 0\n',
        encoding="utf-8",
    )
    systemctl.chmod(0o755)
    if failing_cp:
        cp = bin_dir / "cp"
        cp.write_text("#!/bin/sh\necho 'cp: No space left on device' >&2\nexit 1\n")
        cp.chmod(0o755)
    return bin_dir, log

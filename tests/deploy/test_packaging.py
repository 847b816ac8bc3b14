"""The wheel built from pyproject.toml holds the services' packages (with the KB,
SalesControl's migrations and its dashboard's templates and assets) and nothing of
the test tree or the benchmarks."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import ROOT

SERVICE_PACKAGES = {"core", "rules", "kb", "nodes", "graph", "api", "salescontrol"}
# What a checkout holds besides its sources (at its top level only: kb/data is source).
NOT_SOURCES = {".git", ".venv", ".cache", "data", "build", "salesbot.egg-info"}


def _not_sources(directory: str, names: list[str]) -> set[str]:
    top = Path(directory) == ROOT
    return {n for n in names if (top and n in NOT_SOURCES) or n == "__pycache__"}


@pytest.mark.slow
def test_the_wheel_holds_the_service_and_no_test_harness(tmp_path: Path) -> None:
    # Built from a copy: setuptools leaves build/ and *.egg-info beside the sources.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_not_sources)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*pip_wheel, "--wheel-dir", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    assert "deprecat" not in (built.stdout + built.stderr).lower()
    (wheel,) = tmp_path.glob("salesbot-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names if not name.startswith("salesbot-")}
    assert top == SERVICE_PACKAGES
    assert "api/cli.py" in names and "kb/data/pricing.yaml" in names
    # SalesControl's migrations run from an installed wheel too (`salescontrol db upgrade`).
    migrations = "salescontrol/db/migrations/"
    assert {f"{migrations}env.py", f"{migrations}script.py.mako"} <= set(names)
    assert f"{migrations}versions/0001_initial_schema.py" in names
    assert not [n for n in names if "ollama_stub" in n or "dialogues" in n.split("/")[0]]
    # Every data file of the packages ships: the KB, the dashboard's templates and assets.
    tracked = subprocess.run(
        ["git", "ls-files", *sorted(SERVICE_PACKAGES)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    data = {name for name in tracked if not name.endswith(".py")}
    assert {"salescontrol/dashboard/templates/base.html", "kb/data/_synonyms.yaml"} <= data
    assert data <= set(names), sorted(data - set(names))

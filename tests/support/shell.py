"""Shell scripts of the deployment kits, checked by shellcheck."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT


def assert_shellcheck_clean(*scripts: Path) -> None:
    """No finding at all, sourced files followed (-x); skips without shellcheck."""
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed")
    checked = subprocess.run(
        [shellcheck, "-x", *map(str, scripts)], capture_output=True, text=True, cwd=ROOT
    )
    assert checked.returncode == 0, checked.stdout

"""deploy/salescontrol/ matches the code: the runbook's configuration and key table,
the systemd unit (notify, watchdog, sandbox, the spool), and the Pi's requirements,
which must cover every module the agent imports."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from salescontrol.recorder.config import Config, load_config, parse_config
from tests.salescontrol.recorder.test_config import EXAMPLE, keys_in, keys_of
from tests.support import ROOT

DEPLOY = ROOT / "deploy" / "salescontrol"
RUNBOOK = DEPLOY / "pi.md"
UNIT = DEPLOY / "recorder.service"
REQUIREMENTS = DEPLOY / "recorder-requirements.txt"


def leaf_keys(model: type[Config]) -> set[str]:
    keys = keys_of(model)
    return {k for k in keys if not any(other.startswith(k + ".") for other in keys)}


def unit() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser["Service"]


def test_the_runbooks_configuration_is_valid_and_complete() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", RUNBOOK.read_text(), re.S)
    (example,) = [yaml.safe_load(b) for b in blocks if b.startswith("server:")]
    parse_config(example)
    assert keys_in(example) == keys_of(Config)


def test_the_runbook_names_every_key_and_the_token_sentence() -> None:
    text = RUNBOOK.read_text()
    assert not [key for key in leaf_keys(Config) if f"`{key}`" not in text]
    sentence = "токен устройства выдаёт администратор сервера (раздел «Регистрация устройства»)"
    assert sentence.lower() in text.lower()


def test_the_unit_is_a_sandboxed_notify_service_with_a_watchdog() -> None:
    service = unit()
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    spool = str(load_config(EXAMPLE).spool.dir)
    assert service["ReadWritePaths"] == spool
    assert "/var/lib/" + service["StateDirectory"] == spool
    assert service["User"] not in ("root", "") and service["SupplementaryGroups"] == "audio"
    assert service["ExecStart"] == (
        f"{service['WorkingDirectory']}/.venv/bin/python -m salescontrol.recorder "
        "--config /etc/salescontrol/recorder.yaml"
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    # The venv of the Pi's checkout does not exist here: point ExecStart at a python.
    text = UNIT.read_text().replace("/opt/salescontrol/.venv/bin/python", sys.executable)
    copy = tmp_path / "salescontrol-recorder.service"
    copy.write_text(text)
    checked = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr
    assert "salescontrol-recorder.service" not in checked.stderr, checked.stderr


def requirements() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, bound = line.split(">=")
            pins[name.lower()] = bound
    return pins


def test_the_pi_needs_three_packages_with_lower_bounds() -> None:
    assert set(requirements()) == {"httpx", "pyyaml", "pydantic"}


def _closure(names: set[str]) -> set[str]:
    from importlib import metadata

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = re.split(r"[\s<>=!;\[~]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # for another Python (a marker): not installed, so never imported
        for req in requires:
            if "extra ==" not in req:
                todo.append(req)
    return seen


# Run in a fresh interpreter: any top-level module that is neither the standard
# library, the checkout's own, nor installed by the Pi's requirements is made
# unimportable, as on the Pi. Optional imports (httpx's CLI with rich and click,
# zstandard) then fall back as they would there; a hard dependency fails.
PI_IMPORTS = """
import importlib.abc, json, sys
allowed = set(json.loads(sys.argv[1]))
class OnlyThePisPackages(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in allowed or top.startswith("_"):
            return None
        raise ModuleNotFoundError(f"not on the Pi: {name}", name=name)
sys.meta_path.insert(0, OnlyThePisPackages())
import salescontrol.recorder.agent, salescontrol.recorder.cli
print("ok")
"""


def test_the_requirements_cover_every_module_the_agent_imports() -> None:
    from importlib import metadata

    closure = _closure(set(requirements()))
    allowed = {"core", "salescontrol", "tests"} | {
        module
        for module, dists in metadata.packages_distributions().items()
        if {d.lower().replace("_", "-") for d in dists} & closure
    }
    out = subprocess.run(
        [sys.executable, "-c", PI_IMPORTS, json.dumps(sorted(allowed))],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr

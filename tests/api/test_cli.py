"""Every `salesbot` command reports a bad path or a bad file in one line, with no
traceback, and exits non-zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from api import cli
from tests.support import FIXTURES

SALESBOT = Path(sys.executable).with_name("salesbot")


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    not_jsonl = tmp_path / "questions.jsonl"
    not_jsonl.write_text('{"query": "касса"}\n', encoding="utf-8")
    not_yaml = tmp_path / "dialogue.yaml"
    not_yaml.write_text("steps: [\n", encoding="utf-8")
    return {"jsonl": not_jsonl, "yaml": not_yaml}


def _commands(tmp: Path, bad: dict[str, Path]) -> list[tuple[list[str], dict[str, str], str]]:
    """(argv, environment, what the one line must name)."""
    missing = str(tmp / "missing")
    unwritable = "/proc/1/no-such-dir/conversations.db"
    return [
        (["kb", "eval", "--queries", f"{missing}.jsonl"], {}, f"{missing}.jsonl"),
        (["kb", "eval", "--queries", str(bad["jsonl"])], {}, str(bad["jsonl"])),
        (["kb", "check", "--kb", missing], {}, missing),
        (["kb", "index", "--kb", missing], {}, missing),
        (["kb", "check"], {"SETTINGS_PATH": f"{missing}.yaml"}, f"{missing}.yaml"),
        (["kb", "check"], {"SETTINGS_PATH": str(bad["yaml"])}, str(bad["yaml"])),
        (["serve"], {"DB_PATH": unwritable, "API_KEY": "k"}, "/proc/1/no-such-dir"),
        (["chat"], {"DB_PATH": unwritable}, "/proc/1/no-such-dir"),
        (["dialogues", "record", f"{missing}.yaml", "--ollama", "http://127.0.0.1:9"], {}, missing),
        (["dialogues", "record", str(bad["yaml"]), "--ollama", "http://127.0.0.1:9"], {}, "YAML"),
    ]


def test_bad_paths_and_files_are_one_line_errors(
    tmp_path: Path,
    bad_files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KB_PATH", str(FIXTURES / "kb_good"))
    for argv, environ, named in _commands(tmp_path, bad_files):
        with monkeypatch.context() as scoped:
            for name, value in environ.items():
                scoped.setenv(name, value)
            try:
                code = cli.main(argv)
            except SystemExit as exc:  # argparse and `kb eval`'s line of a bad file
                code = exc.code if isinstance(exc.code, int) else 1
                if isinstance(exc.code, str):
                    print(exc.code, file=sys.stderr)
        out, err = capsys.readouterr()
        lines = [line for line in err.splitlines() if line.strip()]
        assert code != 0, argv
        assert len(lines) == 1, (argv, err)
        assert named in lines[0], (argv, err)
        assert "Traceback" not in out + err


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(SALESBOT), "kb", "eval", "--queries", str(tmp_path / "missing.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"salesbot kb: {tmp_path / 'missing.jsonl'}: No such file or directory"
    )


def test_openapi_prints_the_contract(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("API_KEY", raising=False)  # no key needed to describe the API
    monkeypatch.delenv("DEV_MODE", raising=False)
    assert cli.main(["openapi"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "/api/v1/process" in document["paths"]
    codes = document["paths"]["/api/v1/process"]["post"]["responses"]
    assert {"200", "409", "429", "503"} <= set(codes)


def test_the_published_contract_has_one_error_shape_and_no_422(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DEV_MODE", raising=False)
    assert cli.main(["openapi"]) == 0
    document = json.loads(capsys.readouterr().out)
    error_schema = {"$ref": "#/components/schemas/ErrorResponse"}
    documented = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "422" not in responses, f"{method} {path}"
            for status, response in responses.items():
                if int(status) < 400 or (path, status) == ("/ready", "503"):
                    continue  # /ready's 503 is its readiness report (runbook 7.3)
                assert response["content"]["application/json"]["schema"] == error_schema
                documented += 1
    # Invalid input is the contract's 400 where FastAPI would have listed its 422.
    for path, method in (("/api/v1/process", "post"), ("/api/v1/users/{user_id}/profile", "get")):
        assert "400" in document["paths"][path][method]["responses"]
    assert documented >= 12
    schemas = document["components"]["schemas"]
    assert {"ErrorResponse", "ErrorDetail"} <= set(schemas)
    assert not {"HTTPValidationError", "ValidationError"} & set(schemas)


@pytest.mark.parametrize("trusted", [None, "10.0.0.5", "10.0.0.5,10.0.1.0/24"])
def test_serve_trusts_the_configured_proxies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trusted: str | None
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DB_PATH", str(tmp_path / "bot.db"))
    monkeypatch.setenv("API_KEY", "k")
    if trusted is None:
        monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    else:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", trusted)
    runs: list[dict[str, object]] = []
    monkeypatch.setattr("api.server.uvicorn.run", lambda app, **config: runs.append(config))
    assert cli.main(["serve"]) == 0
    [config] = runs
    assert config["proxy_headers"] is True
    assert config["forwarded_allow_ips"] == (trusted or "127.0.0.1,::1")


def test_serve_refuses_a_proxy_that_is_no_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DB_PATH", str(tmp_path / "bot.db"))
    monkeypatch.setenv("API_KEY", "k")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.5,nginx-host")
    monkeypatch.setattr("api.server.uvicorn.run", lambda app, **config: pytest.fail("started"))
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "forwarded_allow_ips" in err and "'nginx-host' is not an IP address" in err


def test_serve_refuses_several_workers_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two processes on SQLite would each hold their own per-customer lock."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DB_PATH", str(tmp_path / "bot.db"))
    monkeypatch.setenv("API_KEY", "k")
    assert cli.main(["serve", "--workers", "2"]) == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "DATABASE_URL=postgresql://" in lines[0]
    assert "per process" in lines[0]
    assert out == ""


@pytest.mark.parametrize("argv", [["--help"], ["score", "--help"]])
def test_the_dialogues_command_shows_the_harness_help(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["dialogues", *argv])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: salesbot dialogues")
    assert ("--ollama" in out) == (argv[0] == "score")

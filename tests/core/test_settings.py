"""settings.yaml validation and environment overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from core.paths import DEFAULT_SETTINGS_PATH, PROJECT_ROOT
from core.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FF_") or name in {
            "OLLAMA_BASE_URL",
            "OLLAMA_MODEL",
            "KB_PATH",
            "DB_PATH",
        }:
            monkeypatch.delenv(name)


def write_settings(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(DEFAULT_SETTINGS_PATH.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        if value is ...:
            del node[leaf]
        else:
            node[leaf] = value
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_settings_load() -> None:
    settings = load_settings()
    assert settings.llm.model == "ministral-3:14b-instruct-2512-q8_0"
    assert settings.llm.num_ctx >= 4096
    assert settings.flow.start_phase == "discovery"
    assert set(settings.objections.strategies) >= {"price", "competitor", "trust"}


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"llm__num_ctx": 10}, "llm.num_ctx"),
        ({"llm__temperature": "hot"}, "llm.temperature"),
        ({"kb__top_k": 0}, "kb.top_k"),
        ({"flow__start_phase": "smalltalk"}, "flow.start_phase"),
        ({"guards__max_questions": -1}, "guards.max_questions"),
        ({"feature_flags__handoff": "maybe"}, "feature_flags.handoff"),
        ({"llm__modle": "x"}, "llm.modle"),
        ({"objections__strategies__price": ...}, "objections.strategies"),
        # The issue allows up to three evidence quotes; the core stores no more.
        (
            {"salescontrol__speech__analysis__max_evidence": 4},
            "salescontrol.speech.analysis.max_evidence",
        ),
    ],
)
def test_invalid_value_names_the_key(tmp_path: Path, change: dict, key: str) -> None:
    path = write_settings(tmp_path, **change)
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert key in str(err.value)


def test_invalid_regex_in_guards_is_reported(tmp_path: Path) -> None:
    path = write_settings(tmp_path, guards__action_claims=[{"pattern": "(unclosed"}])
    with pytest.raises(SettingsError, match=r"guards\.action_claims"):
        load_settings(path)


def test_reask_patterns_are_gone(tmp_path: Path) -> None:
    # Re-asked fields are recognised by meaning (rules.guards.reask); a settings
    # file still carrying the old phrase list is told so instead of ignored.
    path = write_settings(tmp_path, guards__reask_patterns={"city": ["город"]})
    with pytest.raises(SettingsError, match=r"guards\.reask_patterns"):
        load_settings(path)


def test_every_requested_outcome_has_requirements(tmp_path: Path) -> None:
    path = write_settings(
        tmp_path, flow__outcome_requirements={"payment_ready": ["contact", "city"]}
    )
    with pytest.raises(SettingsError, match=r"trial_requested"):
        load_settings(path)


def test_unreadable_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("llm: [unclosed", encoding="utf-8")
    with pytest.raises(SettingsError, match="YAML syntax error"):
        load_settings(bad)


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://gpu:11434")
    monkeypatch.setenv("OLLAMA_MODEL", "qwen:14b")
    monkeypatch.setenv("KB_PATH", "/srv/kb")
    monkeypatch.setenv("DB_PATH", "/srv/db.sqlite")
    monkeypatch.setenv("KB_DENSE_MODEL", "ai-forever/FRIDA")
    settings = load_settings()
    assert settings.llm.base_url == "http://gpu:11434"
    assert settings.llm.model == "qwen:14b"
    assert settings.kb.path == "/srv/kb"
    assert settings.env.db_path == "/srv/db.sqlite"
    assert settings.kb.dense.model == "ai-forever/FRIDA"
    # The rest of the dense settings are the file's.
    assert settings.kb.dense.fusion == "zscore" and settings.kb.dense.weight == 1.0


def test_feature_flag_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().flags.handoff is True
    monkeypatch.setenv("FF_handoff", "false")
    assert load_settings().flags.dense_retrieval is True  # the hybrid by default
    monkeypatch.setenv("FF_DENSE_RETRIEVAL", "false")
    flags = load_settings().flags
    assert flags.handoff is False
    assert flags.dense_retrieval is False


def test_unknown_or_malformed_flag_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FF_tone_analysis", "true")
    with pytest.raises(SettingsError, match="FF_tone_analysis"):
        load_settings()
    monkeypatch.delenv("FF_tone_analysis")
    monkeypatch.setenv("FF_handoff", "sometimes")
    with pytest.raises(SettingsError, match="FF_handoff"):
        load_settings()


def test_default_paths_are_under_the_project_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.env.db_path == str(PROJECT_ROOT / "data" / "conversations.db")
    assert settings.kb.cache_dir == str(PROJECT_ROOT / ".cache" / "kb")
    assert settings.kb.path is None  # the bundled KB, found by the package itself


def test_paths_in_a_settings_file_are_relative_to_it_and_in_the_environment_to_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    path = write_settings(config, kb__path="knowledge", kb__cache_dir="cache/kb")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    from_file = load_settings(path, environ={})
    assert from_file.kb.path == str(config / "knowledge")
    assert from_file.kb.cache_dir == str(config / "cache" / "kb")
    from_env = load_settings(
        path, environ={"KB_PATH": "kb", "KB_CACHE_DIR": "c", "DB_PATH": "d/x.db"}
    )
    assert from_env.kb.path == str(elsewhere / "kb")
    assert from_env.kb.cache_dir == str(elsewhere / "c")
    assert from_env.env.db_path == str(elsewhere / "d" / "x.db")
    assert load_settings(path, environ={"KB_CACHE_DIR": ""}).kb.cache_dir == ""


def test_an_explicit_environment_ignores_the_process_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_MODEL", "from-the-shell")
    monkeypatch.setenv("FF_handoff", "false")
    settings = load_settings(environ={"API_KEY": "k"})
    assert settings.llm.model != "from-the-shell"
    assert settings.flags.handoff is True
    assert settings.env.api_key == "k"
    assert os.environ["OLLAMA_MODEL"] == "from-the-shell"

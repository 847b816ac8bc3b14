"""The configuration: strict keys, one-line errors naming the key, exit status 2,
and the example file in deploy/ is a valid configuration of every key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from core.chunk_limits import MAX_CHUNK_BYTES, MAX_CHUNK_S
from salescontrol.recorder import cli
from salescontrol.recorder.config import Config, ConfigError, load_config
from tests.support import ROOT

EXAMPLE = ROOT / "deploy" / "salescontrol" / "recorder.example.yaml"
TOKEN = "s3cret-device-token"


def write(tmp_path: Path, data: dict[str, Any] | str) -> Path:
    path = tmp_path / "recorder.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def valid() -> dict[str, Any]:
    return {
        "server": {"url": "https://core.example.kz", "token": TOKEN},
        "recording": {"source": "alsa:default"},
    }


def keys_of(model: type[Config] | Any, prefix: str = "") -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        names.add(prefix + name)
        inner = field.annotation
        for candidate in getattr(inner, "__args__", (inner,)):
            if hasattr(candidate, "model_fields"):
                names |= keys_of(candidate, f"{prefix}{name}.")
    return names


def keys_in(data: dict[str, Any], prefix: str = "") -> set[str]:
    names = set()
    for key, value in data.items():
        names.add(prefix + key)
        if isinstance(value, dict):
            names |= keys_in(value, f"{prefix}{key}.")
    return names


def test_the_example_file_is_valid_and_shows_every_key() -> None:
    config = load_config(EXAMPLE)
    assert config.recording.parsed_source.kind == "alsa"
    assert config.recording.hours is not None
    assert keys_in(yaml.safe_load(EXAMPLE.read_text())) == keys_of(Config)


def test_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, valid()))
    rec = config.recording
    assert (rec.chunk_s, rec.bitrate, rec.sample_rate, rec.channels) == (60, "24k", 16000, 1)
    assert rec.hours is None and rec.timezone == "Asia/Almaty"
    assert (config.health.host, config.health.port, config.heartbeat_s) == ("127.0.0.1", 8042, 60)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"server": {"url": "https://x", "token": TOKEN, "tokn": "x"}}, "server.tokn: unknown key"),
        ({"spool_dir": "/var/lib/x"}, "spool_dir: unknown key"),
        ({"recording": {"source": "alsa:default", "hours": {"start": "08:00", "stop": "22:00"}}},
         "recording.hours.stop: unknown key"),
    ],
)  # fmt: skip
def test_an_unknown_key_is_an_error_naming_it(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, {**valid(), **change}))
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("recording", "expected"),
    [
        ({"chunk_s": 7}, "recording.chunk_s: must divide a day"),
        ({"sample_rate": 44100}, "recording.sample_rate: must be one of"),
        ({"bitrate": "fast"}, "recording.bitrate: must be an Opus bitrate"),
        ({"source": "mic"}, "recording.source: must be alsa:<device>"),
        ({"source": "file:/no/such.wav"}, "recording.source: file not found"),
        ({"timezone": "Asia/Nowhere"}, "recording.timezone: unknown IANA time zone"),
        ({"hours": {"start": "8am", "end": "22:00"}}, 'recording.hours.start: must be "HH:MM"'),
        ({"hours": {"start": "08:00", "end": "08:00"}}, "recording.hours: start and end"),
    ],
)  # fmt: skip
def test_a_bad_value_is_an_error_naming_the_key(
    tmp_path: Path, recording: dict[str, Any], expected: str
) -> None:
    data = valid()
    data["recording"] = {**data["recording"], **recording}
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, data))
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_chunk_longer_than_the_server_takes_is_refused_even_by_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = valid()
    data["recording"]["chunk_s"] = MAX_CHUNK_S
    assert load_config(write(tmp_path, data)).recording.chunk_s == MAX_CHUNK_S
    # 600 and 3600 divide a day, as ffmpeg's cutting needs, but the server would
    # refuse every such chunk for good.
    for longer in (600, 3600):
        data["recording"]["chunk_s"] = longer
        assert cli.main(["--config", str(write(tmp_path, data)), "--check"]) == 2
        err = capsys.readouterr().err
        assert f"recording.chunk_s: must be at most {MAX_CHUNK_S} s" in err
        assert "ingest.max_chunk_s" in err and f"got {longer}" in err


def test_an_unquoted_time_gets_a_hint(tmp_path: Path) -> None:
    # YAML 1.1 reads 22:00 as the base-60 number 1320.
    text = (
        "server: {url: 'https://x', token: t}\n"
        "recording: {source: 'alsa:default', hours: {start: '08:00', end: 22:00}}\n"
    )
    with pytest.raises(ConfigError, match=r"recording\.hours\.end: must be a quoted"):
        load_config(write(tmp_path, text))


def test_a_yaml_syntax_error_is_one_line_with_its_place(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, "server: {url: [\n"))
    assert "recorder.yaml:" in str(raised.value) and "\n" not in str(raised.value)


def test_the_command_prints_one_line_and_exits_2_without_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = valid()
    data["server"] = {**data["server"], "retry_initial_s": 10, "retry_max_s": 1}
    assert cli.main(["--config", str(write(tmp_path, data))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "retry_max_s must not be below retry_initial_s" in err
    assert TOKEN not in err


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--config", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_check_validates_without_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--config", str(write(tmp_path, valid())), "--check"])
    out = capsys.readouterr()
    if code == 1:  # no ffmpeg on this machine: said so
        assert "not found on PATH" in out.err
    else:
        assert code == 0 and out.out.startswith("config ok: source alsa:default")
        assert TOKEN not in out.out


def test_a_chunk_larger_than_the_server_takes_is_refused(tmp_path: Path) -> None:
    data = valid()
    # 300 s at 128 kbit/s fits the server's 10 MiB even at twice the rate (VBR)...
    data["recording"] |= {"chunk_s": 300, "bitrate": "128k"}
    assert load_config(write(tmp_path, data)).recording.chunk_bytes <= MAX_CHUNK_BYTES
    # ...at 256 kbit/s it may not: the server would answer 413 and the chunk be lost.
    data["recording"]["bitrate"] = "256k"
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, data))
    message = str(raised.value)
    assert "chunk_s 300 at bitrate 256k" in message and "ingest.max_chunk_bytes" in message

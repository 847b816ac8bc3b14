"""Writing dialogues and cassettes back as YAML that reads well in a review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.dialogues.format import Cassette, Dialogue


class _FlowMap(dict[str, Any]):
    """A mapping written on one line (replies, profiles)."""


class _FlowList(list[Any]):
    """A list of scalars written on one line (topics, codes)."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Lists indented under their key read better than PyYAML's default.
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(
    _FlowMap,
    lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True),
)
_Dumper.add_representer(
    _FlowList,
    lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True),
)


def _styled(value: Any, key: str = "") -> Any:
    """Mark what reads best on one line; everything else stays in block style."""
    if isinstance(value, dict):
        if key in {"profile", "stored_profile"}:
            return _FlowMap(value)
        return {k: _styled(v, k) for k, v in value.items()}
    if isinstance(value, list):
        if key == "replies":
            return [_FlowMap(v) if isinstance(v, dict) else v for v in value]
        scalars = all(isinstance(v, str | int | float | bool) and "\n" not in str(v) for v in value)
        # Answer fragments are sentences: one per line reads better than one long line.
        if scalars and key not in {"answer_contains", "answer_not_contains"}:
            return _FlowList(value)
        return [_styled(v) for v in value]
    return value


def dump_yaml(data: Any) -> str:
    return yaml.dump(
        _styled(data),
        Dumper=_Dumper,
        allow_unicode=True,
        sort_keys=False,
        width=10_000,
        default_flow_style=False,
    )


def save_dialogue(path: Path, dialogue: Dialogue) -> None:
    data = dialogue.model_dump(mode="json", by_alias=True, exclude_unset=True)
    path.write_text(dump_yaml(data), encoding="utf-8")


def save_cassette(path: Path, cassette: Cassette) -> None:
    header = f"# Recorded LLM replies of {cassette.test_case}; re-record, do not edit by hand.\n"
    data = cassette.model_dump(mode="json", exclude_none=True)
    path.write_text(header + dump_yaml(data), encoding="utf-8")

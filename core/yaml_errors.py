"""YAML syntax errors in one line: "file:line:column: YAML syntax error: problem"
(PyYAML's own message spans several lines, with a snippet of the file)."""

from __future__ import annotations

import yaml


def describe(name: str, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{name}{where}: YAML syntax error: {problem}"

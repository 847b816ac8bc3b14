"""Read a KB directory: one YAML file per category, `sections: [{topic, priority,
keywords, facts}]`. Files whose name starts with `_` are metadata and skipped."""

from __future__ import annotations

from pathlib import Path

import yaml

from kb.types import Section

BUNDLED_KB = Path(__file__).resolve().parent / "data"


class KBError(ValueError):
    """The KB cannot be used; `errors` lists every problem with file and topic."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


def load_sections(path: str | Path) -> list[Section]:
    root = Path(path)
    if not root.is_dir():
        raise KBError([f"{root}: not a directory"])
    sections: list[Section] = []
    errors: list[str] = []
    for file in sorted(root.glob("*.yaml")):
        if file.name.startswith("_"):
            continue
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for item in data.get("sections") or []:
            topic = str(item.get("topic") or "")
            facts = str(item.get("facts") or "").strip()
            if not topic or not facts:
                errors.append(f"{file.name}: {topic or '<no topic>'}: empty topic or facts")
                continue
            sections.append(
                Section(
                    topic=topic,
                    category=file.stem,
                    priority=int(item.get("priority", 5)),
                    keywords=tuple(str(k) for k in item.get("keywords") or []),
                    facts=facts,
                )
            )
    if errors:
        raise KBError(errors)
    return sections

"""Read and validate a KB directory: one YAML file per category, `sections: [{topic,
priority, keywords, facts}]`. Files whose name starts with `_` are metadata and skipped.

Validation collects every problem before failing, each with its file and topic, so
an editor fixes a broken KB in one pass instead of one error per run. Problems that
do not make the KB unusable (an unknown key, usually a mis-indented line of facts)
are warnings. Editor notes ("⚠️ НЕ ПУТАТЬ: …") are cut out of the facts here, so no
later stage can leak them to the LLM.

Synonyms and abbreviations live beside the sections, in `_synonyms.yaml`
(`synonyms: [[касса, ккм, …], …]`): the bundled KB's file holds the domain's, and a
KB directory's own file adds to them, so the people who write the KB extend the
vocabulary the way they write facts.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core import yaml_errors
from kb.types import Section

BUNDLED_KB = Path(__file__).resolve().parent / "data"
KNOWN_KEYS = frozenset({"topic", "priority", "keywords", "facts"})
PRIORITY_RANGE = (1, 10)
SYNONYMS_FILE = "_synonyms.yaml"
SynonymGroups = tuple[tuple[str, ...], ...]

# A note for KB editors occupies a whole line: a warning sign (with or without
# the emoji variation selector, after an optional bullet) or a "do not confuse" /
# "for editors" marker. Such lines disambiguate neighbouring sections for the
# people who write them and would only confuse the LLM (they name the prices of
# *other* products).
_EDITOR_NOTE = re.compile(
    r"^[ \t]*(?:[•\-*–—][ \t]*)?"
    r"(?:[⚠❗‼🚫]\ufe0f?"
    r"|(?:не[ \t]+путать|для[ \t]+редактор|примечание[ \t]+для[ \t]+редактор"
    r"|заметка[ \t]+для[ \t]+редактор|todo|fixme)\b)",
    re.IGNORECASE,
)
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
# libyaml parses a large KB many times faster than the pure-Python loader.
_YAMLLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KBError(ValueError):
    """The KB cannot be used; `errors` lists every problem with file and topic."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class KBContent:
    """A validated KB directory."""

    root: Path
    sections: list[Section]
    warnings: list[str] = field(default_factory=list)
    synonyms: SynonymGroups = ()

    @property
    def content_hash(self) -> str:
        return content_hash(self.sections)


def split_editor_notes(facts: str) -> tuple[str, tuple[str, ...]]:
    """Return the facts without editor-note lines, and the notes themselves."""
    kept: list[str] = []
    notes: list[str] = []
    for line in facts.splitlines():
        if _EDITOR_NOTE.match(line):
            notes.append(line.strip())
        else:
            kept.append(line.rstrip())
    text = _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip()
    return text, tuple(notes)


def content_hash(sections: Iterable[Section]) -> str:
    """A digest of what retrieval sees, independent of YAML formatting and comments."""
    digest = hashlib.sha256()
    for s in sections:
        record = [s.topic, s.category, s.priority, list(s.keywords), s.facts, list(s.notes)]
        digest.update(json.dumps(record, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def category_files(root: Path) -> list[Path]:
    files = [*root.glob("*.yaml"), *root.glob("*.yml")]
    return sorted(f for f in files if f.is_file() and not f.name.startswith("_"))


def _parse_section(
    file: Path, index: int, item: Any, errors: list[str], warnings: list[str]
) -> Section | None:
    where = f"{file.name}: section #{index + 1}"
    if not isinstance(item, dict):
        errors.append(f"{where}: expected a mapping with topic/priority/keywords/facts")
        return None
    topic = item.get("topic")
    if not isinstance(topic, str) or not topic.strip():
        errors.append(f"{where}: topic is missing or empty")
        topic_name = None
    else:
        topic_name = topic.strip()
        where = f"{file.name}: {topic_name}"
    ok = topic_name is not None

    priority = item.get("priority")
    low, high = PRIORITY_RANGE
    # bool is an int in Python; `priority: yes` is a typo, not 1.
    if not isinstance(priority, int) or isinstance(priority, bool) or not low <= priority <= high:
        errors.append(f"{where}: priority must be an integer {low}–{high}, got {priority!r}")
        ok = False

    keywords = item.get("keywords", [])
    if keywords is None:
        keywords = []
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        errors.append(f"{where}: keywords must be a list of strings")
        ok = False
        keywords = []

    raw_facts = item.get("facts")
    notes: tuple[str, ...] = ()
    if not isinstance(raw_facts, str):
        errors.append(f"{where}: facts must be non-empty text, got {type(raw_facts).__name__}")
        ok = False
        facts = ""
    else:
        facts, notes = split_editor_notes(raw_facts)
        if not facts:
            errors.append(f"{where}: facts are empty (editor notes do not count)")
            ok = False

    unknown = sorted(str(k) for k in item if k not in KNOWN_KEYS)
    if unknown:
        warnings.append(
            f"{where}: unknown key(s) {', '.join(unknown)} ignored"
            " (a line of facts indented too little?)"
        )
    if not ok or topic_name is None:
        return None
    return Section(
        topic=topic_name,
        category=file.stem,
        priority=int(priority),  # type: ignore[arg-type]  # validated above
        keywords=tuple(k.strip() for k in keywords if k.strip()),
        facts=facts,
        notes=notes,
        source=file.name,
    )


def _parse_synonyms(file: Path, errors: list[str]) -> SynonymGroups:
    try:
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_YAMLLoader)
    except yaml.YAMLError as exc:
        errors.append(yaml_errors.describe(file.name, exc))
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(f"{file.name}: cannot read: {exc}")
        return ()
    items = data.get("synonyms") if isinstance(data, dict) else None
    if not isinstance(items, list):
        errors.append(f"{file.name}: missing top-level `synonyms:` list of groups")
        return ()
    groups: list[tuple[str, ...]] = []
    for index, item in enumerate(items, 1):
        words = [str(w).strip() for w in item] if isinstance(item, list) else []
        words = [w for w in words if w]
        if len(words) < 2:
            errors.append(f"{file.name}: group #{index}: a list of two or more words expected")
            continue
        groups.append(tuple(words))
    return tuple(groups)


@functools.cache
def bundled_synonyms() -> SynonymGroups:
    """The domain's synonym groups, from the bundled KB's `_synonyms.yaml`."""
    errors: list[str] = []
    groups = _parse_synonyms(BUNDLED_KB / SYNONYMS_FILE, errors)
    if errors:
        raise KBError(errors)
    return groups


def read_synonyms(root: Path, errors: list[str]) -> SynonymGroups:
    """The domain's groups plus those of the KB directory's own `_synonyms.yaml`."""
    own = root / SYNONYMS_FILE
    if not own.is_file() or own.resolve() == (BUNDLED_KB / SYNONYMS_FILE).resolve():
        return bundled_synonyms()
    return bundled_synonyms() + _parse_synonyms(own, errors)


def read_kb(path: str | Path) -> KBContent:
    """Load and validate a KB directory; raise `KBError` listing every problem."""
    root = Path(path)
    if not root.is_dir():
        raise KBError([f"{root}: not a directory"])
    files = category_files(root)
    if not files:
        raise KBError([f"{root}: no category files (*.yaml) found"])
    errors: list[str] = []
    warnings: list[str] = []
    sections: list[Section] = []
    seen: dict[str, str] = {}
    for file in files:
        try:
            data = yaml.load(file.read_text(encoding="utf-8"), Loader=_YAMLLoader)
        except yaml.YAMLError as exc:
            errors.append(yaml_errors.describe(file.name, exc))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{file.name}: cannot read: {exc}")
            continue
        if not isinstance(data, dict) or "sections" not in data:
            errors.append(f"{file.name}: missing top-level `sections:` list")
            continue
        items = data["sections"]
        if not isinstance(items, list) or not items:
            errors.append(f"{file.name}: `sections` must be a non-empty list")
            continue
        for index, item in enumerate(items):
            section = _parse_section(file, index, item, errors, warnings)
            if section is None:
                continue
            first = seen.get(section.topic)
            if first is not None:
                errors.append(
                    f"{file.name}: {section.topic}: duplicate topic (first defined in {first})"
                )
                continue
            seen[section.topic] = file.name
            sections.append(section)
    synonyms = read_synonyms(root, errors)
    if errors:
        raise KBError(errors)
    return KBContent(root=root, sections=sections, warnings=warnings, synonyms=synonyms)

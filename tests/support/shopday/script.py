"""The scripted dialogues file: typed, validated, errors that name the place.

    business: coffee_shop
    dialogues:
      - id: d01
        silence_before_s: 3
        turns:
          - [seller, "Здравствуйте! Что для вас?"]
          - [customer, "Капучино, пожалуйста."]
        upsell: {attempted: yes, categories: [coffee_size], customer_reaction: accepted, quality: 3}

YAML 1.1 reads a bare yes/no as a boolean; `attempted` takes them back as the
words the format uses. Label keys beyond the four known ones are kept as given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Speaker = Literal["seller", "customer"]


class ScriptError(ValueError):
    """A dialogues file that cannot be used; the message names the dialogue and turn."""


class Turn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    who: Speaker
    text: str = Field(min_length=1)

    @field_validator("text")
    @classmethod
    def _spoken(cls, value: str) -> str:
        if not any(ch.isalnum() for ch in value):
            raise ValueError("a turn must contain words")
        return value.strip()


class Upsell(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    attempted: Literal["yes", "no", "uncertain"]
    categories: tuple[str, ...] = ()
    customer_reaction: Literal["accepted", "rejected", "unclear", "none"]
    quality: int = Field(ge=0, le=3)

    @field_validator("attempted", mode="before")
    @classmethod
    def _yes_no(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "yes" if value else "no"
        return value


class Dialogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    silence_before_s: float = Field(ge=0)
    turns: tuple[Turn, ...] = Field(min_length=1)
    upsell: Upsell

    @property
    def reference_text(self) -> str:
        """What is said, turn after turn: the reference of the dialogue's transcript."""
        return " ".join(turn.text for turn in self.turns)


class Script(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    business: str
    dialogues: tuple[Dialogue, ...] = Field(min_length=1)


def _turn(raw: Any, where: str) -> dict[str, Any]:
    if not (isinstance(raw, list | tuple) and len(raw) == 2):
        raise ScriptError(f"{where}: a turn is a pair [who, text], got {raw!r}")
    return {"who": raw[0], "text": raw[1]}


def _dialogue(raw: Any, index: int) -> Dialogue:
    name = raw.get("id") if isinstance(raw, dict) else None
    where = f"dialogue {name!r}" if name else f"dialogue #{index + 1}"
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: expected a mapping, got {type(raw).__name__}")
    turns = raw.get("turns")
    if not isinstance(turns, list):
        raise ScriptError(f"{where}: 'turns' must be a list of [who, text] pairs")
    data = {**raw, "turns": [_turn(t, f"{where}, turn {i + 1}") for i, t in enumerate(turns)]}
    try:
        return Dialogue.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = list(error["loc"])
            if loc[:1] == ["turns"] and len(loc) > 1 and isinstance(loc[1], int):
                loc[1] = f"turn {loc[1] + 1}"
            problems.append(f"{where}: {'.'.join(map(str, loc))}: {error['msg']}")
        raise ScriptError("; ".join(problems)) from None


def parse_script(data: Any) -> Script:
    """A script from the parsed YAML document."""
    if not isinstance(data, dict) or not isinstance(data.get("dialogues"), list):
        raise ScriptError("expected a mapping with a 'dialogues' list")
    dialogues = tuple(_dialogue(raw, i) for i, raw in enumerate(data["dialogues"]))
    seen: set[str] = set()
    for dialogue in dialogues:
        if dialogue.id in seen:
            raise ScriptError(f"dialogue {dialogue.id!r}: the id is used twice")
        seen.add(dialogue.id)
    try:
        return Script(business=str(data.get("business", "")), dialogues=dialogues)
    except ValidationError as exc:
        raise ScriptError(str(exc)) from None


def read_script(raw: bytes, origin: str) -> Script:
    """Parse and validate a dialogues YAML document; `origin` names it in errors."""
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ScriptError(f"{origin}: not valid UTF-8 YAML: {exc}") from None
    try:
        return parse_script(data)
    except ScriptError as exc:
        raise ScriptError(f"{origin}: {exc}") from None


def load_script(path: Path) -> Script:
    """Read and validate a dialogues YAML file."""
    return read_script(path.read_bytes(), str(path))

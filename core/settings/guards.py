"""settings.yaml `guards`: the deterministic checks of every answer draft."""

from __future__ import annotations

from pydantic import Field, field_validator

from core.settings.base import Strict, check_regex
from core.settings.flow import check_profile_fields
from core.taxonomy import GuardCode


class ActionClaim(Strict):
    pattern: str
    """A claim of an action the bot cannot take ("счёт отправлен")."""
    requires: str | None = None
    """A profile field that makes the claim true when known ("сохранил ваш ИИН")."""

    _compiles = field_validator("pattern")(check_regex)

    @field_validator("requires")
    @classmethod
    def _known_field(cls, value: str | None) -> str | None:
        if value is not None:
            check_profile_fields([value])
        return value


class GuardSettings(Strict):
    max_answer_chars: int = Field(ge=50, le=4000)
    max_questions: int = Field(ge=0, le=5)
    price_allow_list: list[int] = Field(default_factory=list)
    min_cyrillic_ratio: float = Field(ge=0.0, le=1.0)
    repeat_similarity: float = Field(gt=0.0, le=1.0)
    fallback_answer: str = Field(min_length=1)
    unknown_fact_answer: str = Field(min_length=1)
    handoff_answer: str = Field(min_length=1)
    fallback_rephrasings: list[str] = Field(default_factory=list)
    """Other wordings of a fixed answer, sent when the fixed one (or a repaired
    draft) would repeat what the customer was just told."""
    action_claims: list[ActionClaim] = Field(default_factory=list)
    edit_in_place: list[GuardCode] = Field(default_factory=list)
    min_edited_words: int = Field(default=5, ge=1)
    min_capability_grounding: float = Field(default=0.5, ge=0.0, le=1.0)
    """Share of a capability statement's content words that this turn's facts or
    the conversation must contain (rules.guards.capability)."""

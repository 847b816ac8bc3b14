"""settings.yaml `flow`, `objections` and `handoff`: the phases of a sale, how
doubts are answered, and when a human takes over."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import Field, field_validator

from core.settings.base import Strict
from core.taxonomy import (
    CONTACT_REQUIREMENT,
    OBJECTION_TYPES,
    PHASES,
    PROFILE_FIELDS,
    REQUESTED_OUTCOMES,
    ObjectionType,
    Phase,
    RequestedOutcome,
    Stage,
)

M = TypeVar("M", bound=Mapping[Any, Any])


def check_profile_fields(names: list[str]) -> list[str]:
    unknown = [name for name in names if name not in PROFILE_FIELDS]
    if unknown:
        raise ValueError(
            f"unknown profile field {', '.join(unknown)} (known: {', '.join(PROFILE_FIELDS)})"
        )
    return names


def require_every(value: M, names: Iterable[str], problem: str) -> M:
    """`value` when it has a key for every one of `names`; else the missing ones."""
    missing = [name for name in names if name not in value]
    if missing:
        raise ValueError(f"{problem}: {', '.join(missing)}")
    return value


class PhaseSettings(Strict):
    goal: str
    instructions: str
    ask_for: list[str] = Field(default_factory=list)
    """Profile fields the answer may ask for in this phase, when still unknown."""
    kb_categories: list[str] = Field(default_factory=list)

    _ask_for_known = field_validator("ask_for")(check_profile_fields)


class FlowSettings(Strict):
    start_phase: Stage
    history_turns: int = Field(ge=1, le=50)
    reengage_after_hours: float = Field(gt=0)
    outcome_requirements: dict[RequestedOutcome, list[str]]
    """The fields each outcome a customer asks for needs before it is reached;
    "contact" is a name or a phone."""
    phases: dict[Phase, PhaseSettings]

    @field_validator("outcome_requirements")
    @classmethod
    def _requirements_known(
        cls, value: dict[RequestedOutcome, list[str]]
    ) -> dict[RequestedOutcome, list[str]]:
        for names in value.values():
            check_profile_fields([name for name in names if name != CONTACT_REQUIREMENT])
        return require_every(value, REQUESTED_OUTCOMES, "outcomes without requirements")

    @field_validator("phases")
    @classmethod
    def _every_phase_configured(
        cls, value: dict[Phase, PhaseSettings]
    ) -> dict[Phase, PhaseSettings]:
        return require_every(value, PHASES, "phases without configuration")


class ObjectionStrategy(Strict):
    acknowledge: str
    kb_query: str
    question: str


class ObjectionSettings(Strict):
    max_per_type: int = Field(ge=1)
    max_total: int = Field(ge=1)
    strategies: dict[ObjectionType, ObjectionStrategy]

    @field_validator("strategies")
    @classmethod
    def _every_type_has_strategy(
        cls, value: dict[ObjectionType, ObjectionStrategy]
    ) -> dict[ObjectionType, ObjectionStrategy]:
        return require_every(value, OBJECTION_TYPES, "objection types without a strategy")


class HandoffSettings(Strict):
    frustration_turns: int = Field(ge=1)
    followup_answers: list[str] = Field(min_length=1)
    """What a repeated request for a human gets once one is on the way (the
    first of them that does not repeat a recent answer)."""

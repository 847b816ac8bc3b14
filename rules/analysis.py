"""The structured analysis of a customer message: the schema the LLM fills
through Ollama's JSON-schema `format`, and the analysis made without the model
(a safe default, or a message a rule reads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from core.taxonomy import PROPOSED_PHASES, Intent, ObjectionType, Phase, ProposedPhase
from rules.profile import ProfileFacts


class Analysis(BaseModel):
    """The analysis of one customer message."""

    intent: Intent
    objection_type: ObjectionType | None = None
    profile: ProfileFacts = Field(default_factory=ProfileFacts)
    search_query: str = ""
    next_phase: ProposedPhase = "discovery"
    frustrated: bool = False


def default_analysis(
    message: str,
    phase: Phase,
    intent: Intent = "unclear",
    profile: Mapping[str, Any] | None = None,
) -> Analysis:
    """An analysis made without the model: when its JSON is unusable (intent
    "unclear", the KB searched with the message itself), or for a message a rule
    reads (see rules.shortcuts). The phase stays where it is."""
    proposed = phase if phase in PROPOSED_PHASES else "discovery"
    return Analysis.model_validate(
        {
            "intent": intent,
            "search_query": message,
            "next_phase": proposed,
            "profile": dict(profile or {}),
        }
    )

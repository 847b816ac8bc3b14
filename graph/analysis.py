"""The structured analysis of a customer message: the intent taxonomy, the
schema the LLM fills through Ollama's JSON-schema `format`, and the safe default
used when the model's output cannot be repaired."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from graph.settings import ObjectionType

Intent = Literal[
    "greeting",
    "business_info",
    "product_question",
    "price_question",
    "tariff_question",
    "equipment_question",
    "integration_question",
    "delivery_question",
    "support_question",
    "legal_fiscal_question",
    "feature_question",
    "installment_question",
    "objection",
    "refusal",
    "agreement",
    "ready_to_buy",
    "demo_request",
    "video_call_request",
    "share_contacts",
    "human_request",
    "complaint",
    "gratitude",
    "off_topic",
    "farewell",
    "unclear",
]
INTENTS: tuple[str, ...] = Intent.__args__  # type: ignore[attr-defined]

# What the analysis may propose; handoff is decided by code, never by the model.
ProposedPhase = Literal[
    "discovery",
    "qualification",
    "presentation",
    "objection_handling",
    "negotiation",
    "closing",
    "payment_ready",
    "video_call_scheduled",
    "soft_close",
]

PROPOSED_PHASES: tuple[str, ...] = ProposedPhase.__args__  # type: ignore[attr-defined]
QUESTION_INTENTS: frozenset[str] = frozenset(i for i in INTENTS if i.endswith("_question"))


class ProfileFacts(BaseModel):
    """Customer facts stated in the message (null when not mentioned)."""

    contact_name: str | None = None
    business_type: str | None = None
    city: str | None = None
    stores_count: int | None = Field(default=None, ge=0, le=100_000)
    current_tools: str | None = None
    automation_before: bool | None = None
    company_name: str | None = None
    pains: list[str] = Field(default_factory=list)
    interest: str | None = None
    phone: str | None = None
    email: str | None = None


class Analysis(BaseModel):
    """The analysis of one customer message."""

    intent: Intent
    objection_type: ObjectionType | None = None
    profile: ProfileFacts = Field(default_factory=ProfileFacts)
    search_query: str = ""
    next_phase: ProposedPhase = "discovery"
    frustrated: bool = False


def default_analysis(message: str, phase: str, intent: Intent = "unclear") -> Analysis:
    """An analysis made without the model: when its JSON is unusable (intent
    "unclear", the KB searched with the message itself), or for a message a rule
    reads (see graph.shortcuts). The phase stays where it is."""
    proposed = phase if phase in PROPOSED_PHASES else "discovery"
    return Analysis.model_validate(
        {"intent": intent, "search_query": message, "next_phase": proposed}
    )

"""The sales bot's vocabulary, one definition each: phases and outcomes, intents,
objection types, guard codes, and the customer profile's fields.

It lives in `core` because settings.yaml is validated against it (phase names,
objection strategies, guard codes, the fields a phase asks for); the sales rules,
the graph's state, the prompts, the `user_profiles` table and the dialogue
replay format all take their names from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

# --- phases and outcomes ---------------------------------------------------------

Stage = Literal[
    "discovery",
    "qualification",
    "presentation",
    "objection_handling",
    "negotiation",
    "closing",
]
"""The open phases of a conversation, in the order a sale usually takes."""

RequestedOutcome = Literal[
    "payment_ready", "video_call_scheduled", "trial_requested", "callback_requested"
]
"""What a customer may ask for, each its own outcome with the data it needs
(flow.outcome_requirements): an invoice and payment, a video demo, trial access
to the program, a call back from a manager."""

ModelOutcome = Literal[RequestedOutcome, "soft_close"]
"""Outcomes the analysis may propose (code checks their preconditions)."""

Outcome = Literal[ModelOutcome, "handoff"]
"""Where a conversation ends; handoff is decided by code, never by the model."""

Phase = Literal[Stage, Outcome]
"""A conversation's phase: an open stage, or the outcome it reached."""

ProposedPhase = Literal[Stage, ModelOutcome]
"""What the analysis may propose as the next phase."""

PHASES: tuple[Phase, ...] = get_args(Phase)
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
PROPOSED_PHASES: tuple[ProposedPhase, ...] = get_args(ProposedPhase)
REQUESTED_OUTCOMES: tuple[RequestedOutcome, ...] = get_args(RequestedOutcome)
TERMINAL_PHASES: frozenset[Phase] = frozenset(OUTCOMES)

# --- what a message says ---------------------------------------------------------

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
    "invoice_request",
    "demo_request",
    "video_call_request",
    "trial_request",
    "callback_request",
    "share_contacts",
    "human_request",
    "complaint",
    "gratitude",
    "off_topic",
    "farewell",
    "unclear",
]
INTENTS: tuple[Intent, ...] = get_args(Intent)
QUESTION_INTENTS: frozenset[Intent] = frozenset(i for i in INTENTS if i.endswith("_question"))

ObjectionType = Literal[
    "price", "competitor", "no_time", "think", "no_need", "trust", "timing", "complexity"
]
OBJECTION_TYPES: tuple[ObjectionType, ...] = get_args(ObjectionType)

# --- what the guards find wrong with a draft (rules.guards) ----------------------

GuardCode = Literal[
    "empty",
    "unknown_price",
    "unknown_percent",
    "other_city_figure",
    "wrong_price_period",
    "wrong_product_price",
    "greeting_repeated",
    "too_many_questions",
    "reasked_known_field",
    "not_russian",
    "false_action_claim",
    "too_long",
    "ungrounded_answer",
    "unfounded_capability",
    "repeated_answer",
    "false_denial",
]
GUARD_CODES: tuple[GuardCode, ...] = get_args(GuardCode)

# --- the customer profile ----------------------------------------------------------

ProfileKind = Literal["text", "int", "bool", "list"]


@dataclass(frozen=True, slots=True)
class ProfileField:
    """One thing the bot may learn about a customer."""

    name: str
    kind: ProfileKind
    """text, int, bool, or list (a list accumulates across turns: pains, interests)."""
    label: str
    """The field's Russian name in prompts ("город")."""
    hint: str = ""
    """What the analysis prompt says the field means, when the name is not enough."""
    from_model: bool = True
    """The analysis may fill it; contact data comes from regexes (rules.contacts)."""
    opaque: bool = False
    """Contact data: prompts say only that it is known, never the value."""
    per_message: ProfileKind | None = None
    """What the analysis reports when it differs from `kind`: one interest per
    message ("text"), which the profile accumulates into its list."""


PROFILE: tuple[ProfileField, ...] = (
    ProfileField("contact_name", "text", "имя"),
    ProfileField("phone", "text", "телефон", from_model=False, opaque=True),
    ProfileField("iin", "text", "ИИН", from_model=False, opaque=True),
    ProfileField("email", "text", "e-mail", from_model=False, opaque=True),
    ProfileField("business_type", "text", "вид бизнеса", "вид бизнеса"),
    ProfileField("city", "text", "город"),
    ProfileField("stores_count", "int", "число точек", "число точек"),
    ProfileField("current_tools", "text", "чем пользуется сейчас", "чем пользуется сейчас"),
    ProfileField(
        "automation_before",
        "bool",
        "пользовался ли программой учёта",
        "пользовался ли программой учёта раньше",
    ),
    ProfileField("company_name", "text", "компания"),
    ProfileField("pains", "list", "проблемы", "список проблем"),
    ProfileField("interest", "list", "интерес", "что интересует", per_message="text"),
)
PROFILE_FIELDS: tuple[str, ...] = tuple(f.name for f in PROFILE)
PROFILE_BY_NAME: dict[str, ProfileField] = {f.name: f for f in PROFILE}

CONTACT_REQUIREMENT = "contact"
"""In flow.outcome_requirements: a name or a phone."""

REQUEST_INTENTS: dict[Intent, RequestedOutcome] = {
    "ready_to_buy": "payment_ready",
    "invoice_request": "payment_ready",
    "demo_request": "video_call_scheduled",
    "video_call_request": "video_call_scheduled",
    "trial_request": "trial_requested",
    "callback_request": "callback_requested",
}
"""The outcome each request names: a trial is not a video call, a call back is
not an invoice."""

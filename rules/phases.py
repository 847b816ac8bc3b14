"""Phase decisions of the autonomous flow, and when a human takes over.

The model proposes the next phase; code decides it, because outcomes have hard
preconditions: payment_ready and video_call_scheduled need a contact (name or
phone), the business type and the city. Until those are known the flow waits in
`closing` with the wanted outcome remembered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.settings import FlowSettings
from core.taxonomy import (
    CONTACT_REQUIREMENT,
    QUESTION_INTENTS,
    TERMINAL_PHASES,
    Intent,
    Outcome,
    Phase,
)
from rules.analysis import Analysis
from rules.profile import is_empty

BUYING_INTENTS: frozenset[Intent] = frozenset({"ready_to_buy"})
CALL_INTENTS: frozenset[Intent] = frozenset({"demo_request", "video_call_request"})
HANDOFF_INTENTS: frozenset[Intent] = frozenset({"human_request", "complaint"})
OUTCOMES_WITH_REQUIREMENTS: frozenset[Outcome] = frozenset(
    {"payment_ready", "video_call_scheduled"}
)


@dataclass(frozen=True, slots=True)
class PhaseDecision:
    phase: Phase
    outcome: Outcome | None
    target_outcome: Outcome | None


def missing_requirements(profile: Mapping[str, Any], requirements: list[str]) -> list[str]:
    """Requirement names not yet satisfied; "contact" is a name or a phone."""
    missing = []
    for requirement in requirements:
        if requirement == CONTACT_REQUIREMENT:
            if is_empty(profile.get("contact_name")) and is_empty(profile.get("phone")):
                missing.append(requirement)
        elif is_empty(profile.get(requirement)):
            missing.append(requirement)
    return missing


def _wanted_outcome(
    analysis: Analysis, current: Phase, previous_target: Outcome | None
) -> Outcome | None:
    if analysis.intent in CALL_INTENTS or analysis.next_phase == "video_call_scheduled":
        return "video_call_scheduled"
    if analysis.intent in BUYING_INTENTS or analysis.next_phase == "payment_ready":
        return "payment_ready"
    # "Да, давайте" in negotiation/closing agrees to the step on the table.
    if analysis.intent == "agreement" and current in {"negotiation", "closing"}:
        return previous_target or "payment_ready"
    return previous_target


def decide_phase(
    current: Phase,
    outcome: Outcome | None,
    previous_target: Outcome | None,
    analysis: Analysis,
    profile: Mapping[str, Any],
    flow: FlowSettings,
) -> PhaseDecision:
    if current == "handoff":
        return PhaseDecision("handoff", "handoff", None)
    if analysis.intent == "refusal":
        return PhaseDecision("soft_close", "soft_close", None)

    target = _wanted_outcome(analysis, current, previous_target)
    if target in OUTCOMES_WITH_REQUIREMENTS:
        if not missing_requirements(profile, flow.outcome_requirements):
            return PhaseDecision(target, target, None)
        return PhaseDecision("closing", outcome, target)

    if current in TERMINAL_PHASES:
        # A closed conversation reopens only when the customer asks something new.
        if current == "soft_close" and analysis.intent in QUESTION_INTENTS:
            return PhaseDecision("presentation", None, None)
        return PhaseDecision(current, outcome, None)

    if analysis.intent == "objection":
        return PhaseDecision("objection_handling", outcome, None)
    proposed = analysis.next_phase
    if proposed in TERMINAL_PHASES:
        # soft_close without a refusal, or an outcome without its preconditions,
        # is the model guessing: keep the conversation where it is.
        return PhaseDecision(current, outcome, None)
    return PhaseDecision(proposed, outcome, None)


def needs_human(
    already: bool, intent: Intent, frustration_streak: int, frustration_turns: int
) -> bool:
    """A human manager takes over: asked for, a complaint, or a customer
    frustrated `frustration_turns` turns in a row; once handed off, it stays so."""
    return already or intent in HANDOFF_INTENTS or frustration_streak >= frustration_turns

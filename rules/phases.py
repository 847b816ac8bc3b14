"""Phase decisions of the autonomous flow, and when a human takes over.

The model proposes the next phase; code decides it, because outcomes have hard
preconditions: each request (an invoice, a video demo, trial access, a call
back) needs its own fields (flow.outcome_requirements). Until they are known the
request is remembered as the target outcome. The phase follows the current
message, not the pending request: the flow waits in `closing` only while the
customer is dealing with the request (asking for it, handing over data, saying
yes); a question in between is answered in an answering phase, and the missing
data is asked for again when it fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.settings import FlowSettings
from core.taxonomy import (
    CONTACT_REQUIREMENT,
    QUESTION_INTENTS,
    REQUEST_INTENTS,
    REQUESTED_OUTCOMES,
    TERMINAL_PHASES,
    Intent,
    Outcome,
    Phase,
    RequestedOutcome,
    Stage,
)
from rules.analysis import Analysis
from rules.profile import is_empty

HANDOFF_INTENTS: frozenset[Intent] = frozenset({"human_request", "complaint"})
# Messages that work on a pending request: it stays the conversation's business.
_ON_REQUEST: frozenset[Intent] = frozenset(
    {*REQUEST_INTENTS, "share_contacts", "agreement", "business_info"}
)
# Where a question is answered when the model keeps proposing a phase whose goal
# is something else (closing, negotiation, an outcome).
_ANSWERING: frozenset[Stage] = frozenset({"discovery", "qualification", "presentation"})


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


def pending_request_fields(
    profile: Mapping[str, Any], target_outcome: str | None, flow: FlowSettings
) -> list[str]:
    """What the request the customer made still lacks ([] without a request)."""
    target = requested(target_outcome)
    if target is None:
        return []
    return missing_requirements(profile, flow.outcome_requirements[target])


def requested(outcome: str | None) -> RequestedOutcome | None:
    """`outcome` when it is one a customer asks for (it has requirements)."""
    for name in REQUESTED_OUTCOMES:
        if outcome == name:
            return name
    return None


def _wanted_outcome(
    analysis: Analysis, current: Phase, previous_target: Outcome | None
) -> RequestedOutcome | None:
    """The request this message makes, else the one still pending. A new request
    replaces the pending one: the customer changed their mind."""
    if analysis.intent in REQUEST_INTENTS:
        return REQUEST_INTENTS[analysis.intent]
    proposed = requested(analysis.next_phase)
    if proposed is not None and analysis.intent not in QUESTION_INTENTS:
        return proposed
    # "Да, давайте" in negotiation/closing agrees to the step on the table.
    if analysis.intent == "agreement" and current in {"negotiation", "closing"}:
        return requested(previous_target) or "payment_ready"
    return requested(previous_target)


def _answering_phase(current: Phase, analysis: Analysis) -> Stage:
    """The phase a question is answered in: the model's proposal when its goal is
    answering, else presentation (whose goal is the product, with facts). A
    conversation that reached an outcome is past discovery."""
    proposed = analysis.next_phase
    if current in TERMINAL_PHASES or current == "closing":
        return "presentation"
    for stage in _ANSWERING:
        if proposed == stage:
            return stage
    return "presentation"


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
    if target is not None and target != outcome:
        if not missing_requirements(profile, flow.outcome_requirements[target]):
            return PhaseDecision(target, target, None)
        if analysis.intent in _ON_REQUEST or analysis.intent == "unclear":
            return PhaseDecision("closing", outcome, target)
    pending = target if target != outcome else None

    if analysis.intent == "objection":
        return PhaseDecision("objection_handling", outcome, pending)
    if analysis.intent in QUESTION_INTENTS:
        # The goal follows the message: a question is answered, in any phase but
        # a handoff, whatever the conversation waits for. A question reopens a
        # softly closed conversation; a reached request stays reached.
        kept = None if outcome == "soft_close" else outcome
        return PhaseDecision(_answering_phase(current, analysis), kept, pending)
    if current in TERMINAL_PHASES:
        # A reached outcome stays the phase until the customer asks something new.
        return PhaseDecision(current, outcome, pending)
    proposed = analysis.next_phase
    if proposed in TERMINAL_PHASES:
        # soft_close without a refusal, or an outcome without its preconditions,
        # is the model guessing: keep the conversation where it is.
        return PhaseDecision(current, outcome, pending)
    return PhaseDecision(proposed, outcome, pending)


def needs_human(
    already: bool, intent: Intent, frustration_streak: int, frustration_turns: int
) -> bool:
    """A human manager takes over: asked for, a complaint, or a customer
    frustrated `frustration_turns` turns in a row; once handed off, it stays so."""
    return already or intent in HANDOFF_INTENTS or frustration_streak >= frustration_turns

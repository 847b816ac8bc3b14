"""Intent node: one structured LLM call that reads the customer's message (none
for greetings, thanks and bare contacts: rules.shortcuts), plus deterministic
contact extraction, then the phase and handoff decisions. It starts the turn's
work afresh.

The LLM proposes (intent, objection type, profile facts, a standalone KB query,
the next phase); code disposes: phones, IINs and e-mails come from parsers with
checksums (the model sees them masked), terminal outcomes need their fields,
handoff follows fixed rules. A twelve-digit number that fails the IIN checks is
noted, so that the answer asks the customer to check it.

Every parse of the text (contacts, their masks, the shortcut's recognisers) is
done here once per turn, in a worker thread: on a long message full of numbers
it takes tenths of a second, which the event loop must not wait through. The
answer's prompts take the masked texts from the turn's work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AnyMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from core.settings import Settings
from core.taxonomy import QUESTION_INTENTS, Intent, Phase
from core.text.contacts import extract_contacts, find_invalid_iins, mask_contacts
from graph import metrics
from graph.context import Services, TurnContext, services_of
from graph.state import SalesState, TurnWork, phase_of
from nodes.dialogue import (
    history_before_pending,
    mask_history,
    pending_customer_text,
    render_history,
)
from rules.analysis import Analysis, default_analysis
from rules.contacts import CustomerText, split_media
from rules.phases import HANDOFF_INTENTS, decide_phase, needs_human
from rules.profile import facts_from_analysis, merge_profile, render_profile
from rules.prompts import ANALYSIS_CONTEXT, ANALYSIS_SYSTEM, MEDIA_NOTE
from rules.shortcuts import analysis_without_model

_SEARCH_ANYWAY: frozenset[Intent] = QUESTION_INTENTS | {"objection", "business_info", "unclear"}


@dataclass(frozen=True, slots=True)
class Reading:
    """What the turn takes from the customer's words by parsing them."""

    customer: CustomerText
    masked_message: str
    """The message as the prompts show it, contact data masked."""
    masked_history: dict[str, str]
    """Earlier customer messages of the prompts' history, masked (mask_history)."""
    contacts: dict[str, str]
    invalid_iin: bool
    shortcut: Analysis | None
    """The analysis a rule makes without the model (rules.shortcuts), if any."""


def read_message(messages: Sequence[AnyMessage], phase: Phase, settings: Settings) -> Reading:
    """Every parse of the turn's text, done once: contacts found and masked, the
    shortcut's recognisers. CPU-bound — a 4,000-character message of phone
    numbers takes a few tenths of a second — so the node runs it in a worker
    thread, and the later prompts reuse its masked texts from the turn's work."""
    customer = split_media(pending_customer_text(messages))
    return Reading(
        customer=customer,
        # Contacts come from code (extract_contacts), never from the model.
        masked_message=mask_contacts(customer.text),
        masked_history=mask_history(messages, settings.flow.history_turns),
        contacts=extract_contacts(customer.text),
        invalid_iin=bool(find_invalid_iins(customer.text)),
        shortcut=analysis_without_model(customer, phase, settings.flags),
    )


def build_analysis_prompt(
    state: SalesState, reading: Reading, phase: Phase, settings: Settings
) -> list[BaseMessage]:
    history = history_before_pending(
        state.get("messages", []), settings.flow.history_turns, reading.masked_history
    )
    return [
        SystemMessage(content=ANALYSIS_SYSTEM),
        HumanMessage(
            content=ANALYSIS_CONTEXT.format(
                phase=phase,
                profile=render_profile(state.get("profile", {})) or "ничего",
                history=render_history(history),
                media=MEDIA_NOTE.get(reading.customer.media_source or "", ""),
                message=reading.masked_message,
            )
        ),
    ]


async def _analyze(
    state: SalesState, reading: Reading, phase: Phase, services: Services
) -> tuple[Analysis, int]:
    """The message's analysis and the LLM calls it took."""
    if reading.shortcut is not None:
        # "Здравствуйте!", "Спасибо", "Айгерим, 87015553344": a rule reads them as
        # well as the model, so no model call (and no KB search).
        metrics.LLM_SKIPPED.labels(kind="analysis").inc()
        return reading.shortcut, 0
    prompt = build_analysis_prompt(state, reading, phase, services.settings)
    result = await services.llm.structured(prompt, Analysis)
    if isinstance(result.value, Analysis):
        return result.value, result.calls
    metrics.LLM_DEFAULTS.inc()
    return default_analysis(reading.customer.text, phase), result.calls


def _returning(state: SalesState, settings: Settings) -> bool:
    """Whether the customer comes back after flow.reengage_after_hours."""
    now_ts, last_ts = state.get("message_ts"), state.get("last_message_ts")
    gap_ms = settings.flow.reengage_after_hours * 3600 * 1000
    return bool(now_ts and last_ts and now_ts - last_ts >= gap_ms)


async def analyze_message(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    services = services_of(runtime)
    settings = services.settings
    phase = phase_of(state, settings.flow)
    reading = await asyncio.to_thread(read_message, state.get("messages", []), phase, settings)
    customer = reading.customer
    analysis, calls = await _analyze(state, reading, phase, services)

    # The model leaves the query empty when the message needs no facts. For a
    # question or a doubt that is a slip, and the message itself is searched; for a
    # refusal or a "thanks" it is right, and the customer's words would only pull
    # loosely related facts (and their prices) into the prompt.
    search_query = analysis.search_query.strip() or (
        customer.text if analysis.intent in _SEARCH_ANYWAY else ""
    )
    profile_update = facts_from_analysis(analysis.profile, reading.contacts)
    # The profile as the reducer will store it, for this turn's phase decision.
    profile = merge_profile(state.get("profile"), profile_update)

    frustrated = analysis.frustrated or analysis.intent == "complaint"
    streak = state.get("frustration_streak", 0) + 1 if frustrated else 0
    handoff = settings.flags.handoff and needs_human(
        bool(state.get("handoff")),
        analysis.intent,
        streak,
        settings.business.handoff.frustration_turns,
    )
    decision = decide_phase(
        current=phase,
        outcome=state.get("outcome"),
        previous_target=state.get("target_outcome"),
        analysis=analysis,
        profile=profile,
        flow=settings.flow,
    )
    objection_type = None
    if analysis.intent == "objection":
        # An unnamed doubt is handled like "I'll think about it".
        objection_type = analysis.objection_type or "think"

    work: TurnWork = {
        "returning": _returning(state, settings),
        "intent": analysis.intent,
        "objection_type": objection_type,
        "search_query": search_query,
        "media_source": customer.media_source,
        "masked_message": reading.masked_message,
        "masked_history": reading.masked_history,
        "invalid_iin": reading.invalid_iin,
        # Once a manager is on the way, questions are still answered (phase
        # handoff); a notice goes out when a human is asked for, or awaited
        # impatiently.
        "handoff_notice": handoff
        and (not state.get("handoff") or analysis.intent in HANDOFF_INTENTS or frustrated),
        "llm_calls": calls,
    }
    now_ts, last_ts = state.get("message_ts"), state.get("last_message_ts")
    return {
        "work": Overwrite(work),
        "turn": state.get("turn", 0) + 1,
        "last_message_ts": now_ts or last_ts or 0,
        "profile": profile_update,
        "phase": "handoff" if handoff else decision.phase,
        "outcome": "handoff" if handoff else decision.outcome,
        "target_outcome": decision.target_outcome,
        "handoff": handoff,
        "frustration_streak": streak,
    }

"""Intent node: one structured LLM call that reads the customer's message (none
for greetings, thanks and bare contacts: graph.shortcuts), plus deterministic
contact extraction, then the phase and handoff decisions.

The LLM proposes (intent, objection type, profile facts, a standalone KB query,
the next phase); code disposes: phones, IINs and e-mails come from regexes with
checksums, terminal outcomes need their fields, handoff follows fixed rules.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from graph import metrics
from graph.analysis import QUESTION_INTENTS, Analysis, default_analysis
from graph.contacts import extract_contacts, split_media
from graph.context import TurnContext, services_of
from graph.phases import decide_phase
from graph.prompts import ANALYSIS_CONTEXT, ANALYSIS_SYSTEM, MEDIA_NOTE
from graph.shortcuts import analysis_without_model
from graph.state import SalesState, merge_profile
from nodes.common import (
    history_before_pending,
    pending_customer_text,
    render_history,
    render_profile,
)

HANDOFF_INTENTS = frozenset({"human_request", "complaint"})
_SEARCH_ANYWAY = QUESTION_INTENTS | {"objection", "business_info", "unclear"}
# Contact fields are taken only from the deterministic extraction.
_LLM_PROFILE_EXCLUDE = {"phone", "email"}


def _profile_update(analysis: Analysis, text: str) -> dict[str, Any]:
    update = {
        key: value
        for key, value in analysis.profile.model_dump().items()
        if key not in _LLM_PROFILE_EXCLUDE and value not in (None, "", [])
    }
    if isinstance(update.get("contact_name"), str):
        update["contact_name"] = update["contact_name"].strip().title()
    if isinstance(update.get("interest"), str):
        # What this message asks about; the profile keeps the interests shown
        # (graph.state.merge_profile), as it keeps the pains.
        interest = update.pop("interest").strip()
        if interest:
            update["interest"] = [interest]
    update.update(extract_contacts(text))
    return update


async def analyze_message(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    services = services_of(runtime)
    settings = services.settings
    phase = state.get("phase") or settings.flow.start_phase
    customer = split_media(pending_customer_text(state.get("messages", [])))
    history = history_before_pending(state.get("messages", []), settings.flow.history_turns)

    shortcut = analysis_without_model(customer, phase, settings.flags)
    if shortcut is not None:
        # "Здравствуйте!", "Спасибо", "Айгерим, 87015553344": a rule reads them as
        # well as the model, so no model call (and, below, no KB search).
        metrics.LLM_SKIPPED.labels(kind="analysis").inc()
        analysis = shortcut
        calls = 0
    else:
        prompt = [
            SystemMessage(content=ANALYSIS_SYSTEM),
            HumanMessage(
                content=ANALYSIS_CONTEXT.format(
                    phase=phase,
                    profile=render_profile(state.get("profile", {})) or "ничего",
                    history=render_history(history),
                    media=MEDIA_NOTE.get(customer.media_source or "", ""),
                    message=customer.text,
                )
            ),
        ]
        result = await services.llm.structured(prompt, Analysis)
        calls = result.calls
        if isinstance(result.value, Analysis):
            analysis = result.value
        else:
            metrics.LLM_DEFAULTS.inc()
            analysis = default_analysis(customer.text, phase)
    # The model leaves the query empty when the message needs no facts. For a
    # question or a doubt that is a slip, and the message itself is searched; for a
    # refusal or a "thanks" it is right, and the customer's words would only pull
    # loosely related facts (and their prices) into the prompt.
    search_query = analysis.search_query.strip() or (
        customer.text if analysis.intent in _SEARCH_ANYWAY else ""
    )

    profile_update = _profile_update(analysis, customer.text)
    # The profile as the reducer will store it, for this turn's phase decision.
    profile = merge_profile(state.get("profile"), profile_update)

    now_ts = state.get("message_ts")
    last_ts = state.get("last_message_ts")
    gap_ms = settings.flow.reengage_after_hours * 3600 * 1000
    returning = bool(now_ts and last_ts and now_ts - last_ts >= gap_ms)

    frustrated = analysis.frustrated or analysis.intent == "complaint"
    streak = state.get("frustration_streak", 0) + 1 if frustrated else 0
    handoff = settings.flags.handoff and (
        state.get("handoff", False)
        or analysis.intent in HANDOFF_INTENTS
        or streak >= settings.business.handoff.frustration_turns
    )

    decision = decide_phase(
        current=phase,
        outcome=state.get("outcome"),
        previous_target=state.get("target_outcome"),
        analysis=analysis,
        profile=profile,
        flow=settings.flow,
    )
    objection_type = analysis.objection_type
    if analysis.intent == "objection" and objection_type is None:
        objection_type = "think"  # an unnamed doubt is handled like "I'll think about it"

    return {
        "turn": state.get("turn", 0) + 1,
        "returning": returning,
        "last_message_ts": now_ts or last_ts or 0,
        "intent": analysis.intent,
        "objection_type": objection_type if analysis.intent == "objection" else None,
        "profile": profile_update,
        "search_query": search_query,
        "media_source": customer.media_source,
        "phase": "handoff" if handoff else decision.phase,
        "outcome": "handoff" if handoff else decision.outcome,
        "target_outcome": decision.target_outcome,
        "handoff": handoff,
        "frustration_streak": streak,
        "objection_guidance": None,
        "kb_facts": [],
        "kb_topics": [],
        "kb_relevant": False,
        "draft": "",
        "guard_feedback": [],
        "guard_attempts": 0,
        "guard_violations": [],
        "llm_calls": calls,
    }

"""Guard node: deterministic checks on the draft answer (rules.guards).

On a violation the draft goes back to `generate` once, with the violation named
in the prompt; if the second draft still breaks a rule, the offending sentences
are removed (or a safe fixed answer is used). Violations that cutting a sentence
fixes as well as a new draft would (settings guards.edit_in_place) are edited
out of the first draft instead, saving the regeneration call. Violations stay in
the turn's work so replays and metrics can see what the model got wrong.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from core.taxonomy import QUESTION_INTENTS
from graph import metrics
from graph.context import TurnContext, services_of
from graph.state import SalesState, TurnWork, deliver, message_text, phase_of, work_of
from nodes.dialogue import pending_customer_text
from rules.guards import GuardInput
from rules.guards.repetition import fresh
from rules.phases import pending_request_fields

MAX_DRAFTS = 2  # the first draft and one regeneration


async def check_answer(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    services = services_of(runtime)
    settings = services.settings
    guard = services.guard
    work = work_of(state)
    phase = phase_of(state, settings.flow)
    profile = state.get("profile", {})
    data = GuardInput(
        answer=work.get("draft", ""),
        turn=state.get("turn", 1),
        phase=phase,
        profile=profile,
        kb_facts=[f["facts"] for f in work.get("kb_facts") or []],
        previous_answers=state.get("answers", []),
        returning=bool(work.get("returning")),
        unanswerable=work.get("intent") in QUESTION_INTENTS and not work.get("kb_relevant"),
        customer=[
            message_text(m) for m in state.get("messages", []) if isinstance(m, HumanMessage)
        ],
        message=pending_customer_text(state.get("messages", [])),
        wanted=pending_request_fields(profile, state.get("target_outcome"), settings.flow),
    )
    codes = guard.check(data)
    for code in codes:
        metrics.GUARD_VIOLATIONS.labels(code=code).inc()
    seen = list(work.get("guard_violations", []))
    checked: TurnWork = {
        "guard_attempts": work.get("guard_attempts", 0) + 1,
        "guard_feedback": [],
        "guard_violations": seen + [c for c in codes if c not in seen],
    }
    if not codes:
        return deliver(state, data.answer.strip(), checked)
    if checked["guard_attempts"] < MAX_DRAFTS and settings.flags.guard_regeneration:
        # A violation that is an extra clause (settings guards.edit_in_place) is
        # cut out of the draft when what remains is still the answer: a
        # regeneration would cost an LLM call.
        edited = guard.edit(data, codes)
        if edited is not None:
            metrics.GUARD_EDITS.inc()
            return deliver(state, edited, checked)
        return {"work": {**checked, "guard_feedback": codes}}
    metrics.GUARD_FALLBACKS.inc()
    # A fixed or repaired text must not repeat what the customer was just told.
    repaired = fresh(
        [guard.repair(data, codes), *settings.guards.fallback_rephrasings],
        data.previous_answers,
        settings.guards.repeat_similarity,
    )
    return deliver(state, repaired, checked)

"""Guard node: deterministic checks on the draft answer.

On a violation the draft goes back to `generate` once, with the violation named
in the prompt; if the second draft still breaks a rule, the offending sentences
are removed (or a safe fixed answer is used). Violations that cutting a sentence
fixes as well as a new draft would (settings guards.edit_in_place) are edited
out of the first draft instead, saving the regeneration call. Violations stay in
the state so replays and metrics can see what the model got wrong.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph import metrics
from graph.analysis import QUESTION_INTENTS
from graph.context import TurnContext, services_of
from graph.guardrails import Guard, GuardInput
from graph.state import SalesState, answer_update

MAX_DRAFTS = 2  # the first draft and one regeneration


async def check_answer(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    settings = services_of(runtime).settings
    guard = Guard(settings.guards)
    data = GuardInput(
        answer=state.get("draft", ""),
        turn=state.get("turn", 1),
        phase=state.get("phase") or settings.flow.start_phase,
        profile=state.get("profile", {}),
        kb_facts=[f["facts"] for f in state.get("kb_facts") or []],
        previous_answers=state.get("answers", []),
        returning=bool(state.get("returning")),
        unanswerable=state.get("intent") in QUESTION_INTENTS and not state.get("kb_relevant"),
    )
    codes = guard.check(data)
    attempts = state.get("guard_attempts", 0) + 1
    seen = [
        *state.get("guard_violations", []),
        *(c for c in codes if c not in state.get("guard_violations", [])),
    ]
    for code in codes:
        metrics.GUARD_VIOLATIONS.labels(code=code).inc()

    if not codes:
        return {
            **answer_update(data.answer.strip()),
            "guard_attempts": attempts,
            "guard_feedback": [],
        }
    if attempts < MAX_DRAFTS and settings.flags.guard_regeneration:
        # A repeated greeting or a re-asked field is cut out of the draft when
        # what remains stands on its own: a regeneration would cost seconds.
        edited = guard.edit(data, codes)
        if edited is not None:
            metrics.GUARD_EDITS.inc()
            return {
                **answer_update(edited),
                "guard_attempts": attempts,
                "guard_feedback": [],
                "guard_violations": seen,
            }
        return {"guard_attempts": attempts, "guard_feedback": codes, "guard_violations": seen}

    metrics.GUARD_FALLBACKS.inc()
    repaired = guard.repair(data, codes)
    return {
        **answer_update(repaired),
        "guard_attempts": attempts,
        "guard_feedback": [],
        "guard_violations": seen,
    }

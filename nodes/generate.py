"""Generate node: one LLM call that writes the answer.

Prompt order is fixed by design — rules, KB facts, the known profile, the phase
goal, recent history, then the new message — because facts placed after a long
history get ignored and known fields must never be re-asked. A regeneration adds
one system note after the new message and changes nothing before it.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from core.settings import Settings
from core.taxonomy import CONTACT_REQUIREMENT, PROFILE_BY_NAME
from graph.context import TurnContext, services_of
from graph.state import Fact, SalesState, phase_of, work_of
from nodes.dialogue import history_before_pending
from rules.contacts import with_iin_check_request
from rules.phases import pending_request_fields, requested
from rules.profile import missing_fields, render_profile
from rules.prompts import (
    ANSWER_RULES,
    ASK_FOR_BLOCK,
    CONTACT_LABEL,
    FACTS_BLOCK,
    GREETING_FIRST,
    GREETING_LATER,
    INVALID_IIN_BLOCK,
    MEDIA_NOTE,
    NO_FACTS,
    PENDING_REQUEST_BLOCK,
    PHASE_BLOCK,
    PROFILE_BLOCK,
    PROFILE_EMPTY,
    REQUEST_BLOCK,
    REQUEST_LABELS,
    RETRY_BLOCK,
    VIOLATION_HINTS,
)


def _facts_block(facts: list[Fact]) -> str:
    if not facts:
        return NO_FACTS
    return FACTS_BLOCK.format(facts="\n\n".join(f"[{f['topic']}]\n{f['facts']}" for f in facts))


def _labels(names: list[str]) -> str:
    return ", ".join(
        CONTACT_LABEL if name == CONTACT_REQUIREMENT else PROFILE_BY_NAME[name].label
        for name in names
    )


def _request_block(state: SalesState, settings: Settings, phase: str) -> str | None:
    """What the customer asked for and what it still lacks: in closing, the
    request to confirm and the data to ask for; in any other phase, a reminder to
    ask for that data after answering."""
    target = requested(state.get("target_outcome"))
    missing = pending_request_fields(state.get("profile", {}), target, settings.flow)
    if target is None or not missing:
        return None
    template = REQUEST_BLOCK if phase == "closing" else PENDING_REQUEST_BLOCK
    return template.format(request=REQUEST_LABELS[target], fields=_labels(missing))


def _phase_block(state: SalesState, settings: Settings) -> str:
    phase = phase_of(state, settings.flow)
    cfg = settings.flow.phases[phase]
    text = PHASE_BLOCK.format(phase=phase, goal=cfg.goal, instructions=cfg.instructions)
    request = _request_block(state, settings, phase)
    if request is not None:
        # The request's own data replaces the phase's generic list.
        return f"{text}\n{request}"
    wanted = missing_fields(state.get("profile", {}), cfg.ask_for)
    if wanted:
        text += "\n" + ASK_FOR_BLOCK.format(fields=_labels(wanted))
    return text


def build_answer_prompt(state: SalesState, settings: Settings) -> list[BaseMessage]:
    work = work_of(state)
    may_greet = state.get("turn", 1) <= 1 or bool(work.get("returning"))
    rules = ANSWER_RULES.format(
        max_chars=settings.guards.max_answer_chars,
        greeting_rule=GREETING_FIRST if may_greet else GREETING_LATER,
    )
    profile = render_profile(state.get("profile", {}))
    sections = [
        rules,
        _facts_block(work.get("kb_facts") or []),
        PROFILE_BLOCK.format(profile=profile) if profile else PROFILE_EMPTY,
        _phase_block(state, settings),
    ]
    if work.get("objection_guidance"):
        sections.append(str(work["objection_guidance"]))
    if work.get("invalid_iin"):
        sections.append(INVALID_IIN_BLOCK)
    # The texts were masked once for the turn (nodes.intent): parsing them again
    # here would hold the event loop for each draft.
    note = MEDIA_NOTE.get(work.get("media_source") or "", "")
    text = work["masked_message"]
    current = f"{note.strip()}\n{text}" if note else text
    history = history_before_pending(
        state.get("messages", []), settings.flow.history_turns, work["masked_history"]
    )
    prompt: list[BaseMessage] = [
        SystemMessage(content="\n\n".join(sections)),
        *history,
        HumanMessage(content=current),
    ]
    feedback = work.get("guard_feedback") or []
    if feedback:
        # The regeneration's note comes last, after the customer's message: the
        # prompt before it is then the first draft's, token for token, and Ollama
        # reuses that prefix's KV cache instead of prefilling the whole prompt again.
        hints = "; ".join(VIOLATION_HINTS[code] for code in feedback)
        prompt.append(SystemMessage(content=RETRY_BLOCK.format(violations=hints)))
    return prompt


async def generate_answer(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    services = services_of(runtime)
    work = work_of(state)
    draft = await services.llm.text(build_answer_prompt(state, services.settings))
    if work.get("invalid_iin"):
        # Told or not, the customer must learn that the IIN did not pass.
        draft = with_iin_check_request(draft)
    return {"work": {"draft": draft, "llm_calls": work.get("llm_calls", 0) + 1}}

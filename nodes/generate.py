"""Generate node: one LLM call that writes the answer.

Prompt order is fixed by design — rules, KB facts, the known profile, the phase
goal, recent history, then the new message — because facts placed after a long
history get ignored and known fields must never be re-asked.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from core.settings import Settings
from core.taxonomy import PROFILE_BY_NAME
from graph.context import TurnContext, services_of
from graph.state import Fact, SalesState, phase_of, work_of
from nodes.dialogue import history_before_pending, pending_customer_text
from rules.contacts import split_media
from rules.profile import missing_fields, render_profile
from rules.prompts import (
    ANSWER_RULES,
    ASK_FOR_BLOCK,
    FACTS_BLOCK,
    GREETING_FIRST,
    GREETING_LATER,
    MEDIA_NOTE,
    NO_FACTS,
    PHASE_BLOCK,
    PROFILE_BLOCK,
    PROFILE_EMPTY,
    RETRY_BLOCK,
    VIOLATION_HINTS,
)


def _facts_block(facts: list[Fact]) -> str:
    if not facts:
        return NO_FACTS
    return FACTS_BLOCK.format(facts="\n\n".join(f"[{f['topic']}]\n{f['facts']}" for f in facts))


def _phase_block(state: SalesState, settings: Settings) -> str:
    phase = phase_of(state, settings.flow)
    cfg = settings.flow.phases[phase]
    text = PHASE_BLOCK.format(phase=phase, goal=cfg.goal, instructions=cfg.instructions)
    wanted = missing_fields(state.get("profile", {}), cfg.ask_for)
    if wanted:
        labels = ", ".join(PROFILE_BY_NAME[name].label for name in wanted)
        text += "\n" + ASK_FOR_BLOCK.format(fields=labels)
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
    feedback = work.get("guard_feedback") or []
    if feedback:
        hints = "; ".join(VIOLATION_HINTS[code] for code in feedback)
        sections.append(RETRY_BLOCK.format(violations=hints))

    messages = state.get("messages", [])
    customer = split_media(pending_customer_text(messages))
    note = MEDIA_NOTE.get(customer.media_source or "", "")
    current = f"{note.strip()}\n{customer.text}" if note else customer.text
    return [
        SystemMessage(content="\n\n".join(sections)),
        *history_before_pending(messages, settings.flow.history_turns),
        HumanMessage(content=current),
    ]


async def generate_answer(state: SalesState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    services = services_of(runtime)
    draft = await services.llm.text(build_answer_prompt(state, services.settings))
    return {"work": {"draft": draft, "llm_calls": work_of(state).get("llm_calls", 0) + 1}}

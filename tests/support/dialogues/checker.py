"""Checking one step's observation against its assertions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.profile import is_empty
from tests.support.dialogues.driver import Observation
from tests.support.dialogues.format import StepAssert


class Note(str):
    """A description standing in for a value in a report ("not in the answer")."""

    __slots__ = ()


@dataclass(frozen=True)
class Mismatch:
    """One failed assertion."""

    assertion: str
    expected: Any
    actual: Any


_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})


def _norm(text: str) -> str:
    return text.translate(_SPACES).casefold()


def _compare_fields(
    name: str, expected: Mapping[str, Any], actual: Mapping[str, Any] | None
) -> list[Mismatch]:
    if actual is None:
        return [Mismatch(name, dict(expected), Note("no profile stored"))]
    wrong = {key: value for key, value in expected.items() if actual.get(key) != value}
    if not wrong:
        return []
    return [Mismatch(name, wrong, {key: actual.get(key) for key in wrong})]


def check_step(expect: StepAssert, observed: Observation) -> list[Mismatch]:
    """Every assertion of `expect` that `observed` breaks (empty when the step passes)."""
    if observed.status != 200:
        return [Mismatch("status", 200, Note(f"{observed.status} {observed.error}".strip()))]
    written = expect.model_fields_set
    meta = observed.meta
    found: list[Mismatch] = []
    for name in ("intent", "phase", "outcome", "handoff", "kb_used", "turn"):
        if name in written and meta.get(name) != getattr(expect, name):
            found.append(Mismatch(name, getattr(expect, name), meta.get(name)))
    if "returning" in written and observed.returning != expect.returning:
        found.append(Mismatch("returning", expect.returning, observed.returning))
    if "llm_calls" in written and observed.llm_calls != expect.llm_calls:
        found.append(Mismatch("llm_calls", expect.llm_calls, observed.llm_calls))

    profile = observed.profile
    if expect.profile:
        found += _compare_fields("profile", expect.profile, profile)
    unset = [name for name in expect.profile_set if is_empty(profile.get(name))]
    if unset:
        found.append(Mismatch("profile_set", unset, Note("not set")))
    present = {
        name: profile[name] for name in expect.profile_not_set if not is_empty(profile.get(name))
    }
    if present:
        found.append(Mismatch("profile_not_set", sorted(present), present))
    if expect.stored_profile:
        found += _compare_fields("stored_profile", expect.stored_profile, observed.stored_profile)

    absent = [t for t in expect.kb_topics if t not in observed.kb_topics]
    if absent:
        found.append(Mismatch("kb_topics", absent, observed.kb_topics))
    unwanted = [t for t in expect.kb_topics_not if t in observed.kb_topics]
    if unwanted:
        found.append(Mismatch("kb_topics_not", unwanted, observed.kb_topics))

    answer = observed.answer
    if expect.answer is not None and answer != expect.answer:
        found.append(Mismatch("answer", expect.answer, answer))
    lacking = [s for s in expect.answer_contains if _norm(s) not in _norm(answer)]
    if lacking:
        found.append(Mismatch("answer_contains", lacking, Note("not in the answer")))
    forbidden = [s for s in expect.answer_not_contains if _norm(s) in _norm(answer)]
    if forbidden:
        found.append(Mismatch("answer_not_contains", forbidden, Note("present in the answer")))
    if expect.answer_matches is not None and not re.search(expect.answer_matches, answer):
        found.append(
            Mismatch("answer_matches", expect.answer_matches, Note("no match in the answer"))
        )

    if expect.guard_violations is not None and sorted(set(expect.guard_violations)) != sorted(
        set(observed.guard_violations)
    ):
        found.append(
            Mismatch(
                "guard_violations",
                sorted(set(expect.guard_violations)),
                sorted(set(observed.guard_violations)),
            )
        )
    return found

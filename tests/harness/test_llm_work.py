"""bench.llm_work's model of Ollama's prefix reuse: what a call leaves to prefill."""

from __future__ import annotations

from typing import Any

from bench.llm_work import CHARS_PER_TOKEN, prefill_chars


def call(*messages: tuple[str, str]) -> dict[str, Any]:
    return {"messages": [{"role": role, "content": text} for role, text in messages]}


DRAFT = call(("system", "Правила. Факты."), ("user", "Привет"), ("assistant", "Здравствуйте!"))


def test_a_first_call_prefills_its_whole_prompt() -> None:
    assert prefill_chars(DRAFT, None) == len("Правила. Факты.Привет") + len("Здравствуйте!")


def test_a_call_that_only_appends_prefills_only_what_it_appends() -> None:
    again = call(*[(m["role"], m["content"]) for m in DRAFT["messages"]], ("system", "Исправь."))
    assert prefill_chars(again, DRAFT) == len("Исправь.")


def test_reuse_stops_at_the_first_difference() -> None:
    # Same start of the system message, then it differs: everything after the
    # common start is prefilled, including later messages that are alike.
    other = call(("system", "Правила. Другое."), ("user", "Привет"), ("assistant", "Здравствуйте!"))
    left = len("Другое.") + len("Привет") + len("Здравствуйте!")
    assert prefill_chars(other, DRAFT) == left
    # A message in another role shares nothing from there on.
    assert prefill_chars(call(("user", "Правила. Факты.")), DRAFT) == len("Правила. Факты.")


def test_a_prompt_met_whole_still_evaluates_a_token() -> None:
    assert prefill_chars(DRAFT, DRAFT) == round(CHARS_PER_TOKEN)

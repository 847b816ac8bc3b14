"""Reducers of the conversation state."""

from __future__ import annotations

from graph.state import ANSWER_MEMORY, append_answers, merge_counts


def test_counts_add_up() -> None:
    assert merge_counts({"price": 1}, {"price": 1, "trust": 1}) == {"price": 2, "trust": 1}


def test_answer_memory_is_capped() -> None:
    answers: list[str] = []
    for i in range(ANSWER_MEMORY + 5):
        answers = append_answers(answers, [f"a{i}"])
    assert len(answers) == ANSWER_MEMORY
    assert answers[-1] == f"a{ANSWER_MEMORY + 4}"

"""Repetition of what the customer was already told, fixed texts included."""

from __future__ import annotations

from rules.guards.repetition import fresh, repeats

HANDOFF = "Передаю ваш вопрос менеджеру — он свяжется с вами в ближайшее время."
FOLLOWUP = "Менеджер уже получил наш разговор и ответит вам здесь, в этом чате."


def test_a_whole_answer_repeated() -> None:
    assert repeats(HANDOFF, ["Здравствуйте!", HANDOFF], 0.9)
    assert not repeats(FOLLOWUP, [HANDOFF], 0.9)


def test_a_question_repeated_word_for_word_in_a_new_answer() -> None:
    before = "Понимаю. Обучение включено. Кто у вас будет работать с программой?"
    now = "Понимаю. Есть онлайн-обучение из любого города. Кто у вас будет работать с программой?"
    assert repeats(now, [before], 0.9)
    # Only the last answers' questions count: an old question may come back.
    assert not repeats(now, [before, "Хорошо.", "Спасибо!"], 0.9)


def test_fresh_takes_the_first_text_not_said_recently() -> None:
    assert fresh([HANDOFF, FOLLOWUP], [], 0.9) == HANDOFF
    assert fresh([HANDOFF, FOLLOWUP], [HANDOFF], 0.9) == FOLLOWUP
    # All said: the one said longest ago, not the last answer again.
    assert fresh([HANDOFF, FOLLOWUP], [HANDOFF, FOLLOWUP], 0.9) == HANDOFF

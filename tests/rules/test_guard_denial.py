"""Denials about the company or the product checked against what the company has
said, and the edit in place that cuts an extra clause only while the rest is
still the answer (issue 20: a false "у нас нет сайта" reached a customer; a
regeneration per bad clause cost 2.1 LLM calls per turn)."""

from __future__ import annotations

import pytest

from core.settings import load_settings
from rules.guards import Guard, GuardInput
from rules.guards.capability import invented_capability
from rules.guards.denial import is_denial, unfounded_denial
from rules.guards.lemmas import Sources

FACTS = [
    "Ограничения по интеграциям:\n"
    "• Прямой интеграции с Ozon и Wildberries сейчас нет; из маркетплейсов подключаются "
    "Kaspi и Halyk Market.",
    "Офлайн-режим:\n• Если интернет пропал, касса продолжает продавать и пробивать чеки.\n"
    "• Когда связь возвращается, чеки сами уходят в ОФД.",
    "Принтеры: GP-2120TFN — 30 000 ₸: этикетки и ценники. Ценники печатаются из карточки "
    "товара или при приёмке.",
]
SAID = Sources.of(FACTS)


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard(load_settings().guards)


def data(answer: str, **kw: object) -> GuardInput:
    base: dict = {"turn": 3, "phase": "presentation", "profile": {}, "kb_facts": FACTS}
    base.update(kw)
    return GuardInput(answer=answer, **base)


@pytest.mark.parametrize(
    "sentence",
    [
        "У нас нет сайта.",
        "Такой функции нету.",
        "Мы не работаем с маркетплейсами.",
        "Программа не поддерживает Telegram.",
        "К сожалению, такой возможности пока нет.",
        "Выгрузить отчёт в Excel нельзя.",
        "Касса работает, но мобильного приложения у нас нет.",
    ],
)
def test_denials_of_the_company_or_product(sentence: str) -> None:
    assert is_denial(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Нет, не проблема: ТОО подключаются к Wipon.",  # the answer particle
        "У вас нет сайта?",  # a question
        "Если у вас нет ЭЦП, её можно получить в ЦОНе.",  # a condition, the customer's
        "Списка клиентов по городам у меня нет — уточню у коллег.",  # the bot's knowledge
        "Точно сказать не могу, уточню у коллег.",
        "Касса продолжает продавать, даже если интернет пропал.",
        "Это не может быть проблемой.",
    ],
)
def test_what_is_no_denial(sentence: str) -> None:
    assert not is_denial(sentence)


@pytest.mark.parametrize(
    ("sentence", "question", "unfounded"),
    [
        # The facts say it themselves.
        ("С Ozon и Wildberries прямой интеграции сейчас нет.", "", False),
        # Nothing said about it: the KB not knowing is no evidence.
        ("У нас нет сайта.", "", True),
        ("Мобильного приложения для владельца у нас нет.", "", True),
        # A qualifier the facts never use makes another thing: "цветные ценники".
        ("Цветные ценники программа не поддерживает.", "", True),
        # Without an object of its own a denial denies what was asked.
        ("Нет, такой функции нет.", "А с Instagram работаете?", True),
        ("Нет, такой функции нет.", "А с Wildberries работаете?", False),
        ("Нет, такого нет.", "", False),  # nothing nameable: not judged
        # One clause denies, the next concludes from it in the customer's words.
        (
            "Интеграции с Ozon нет, поэтому заказы с маркетплейса Озон не попадут в учёт.",
            "А заказы с Озон попадут в учёт?",
            False,
        ),
    ],
)
def test_a_denial_needs_its_object_in_what_the_company_said(
    sentence: str, question: str, unfounded: bool
) -> None:
    assert unfounded_denial(sentence, SAID, question) is unfounded


def test_the_customers_words_do_not_ground_a_denial(guard: Guard) -> None:
    # "сайт" is in the customer's question, which is exactly when "сайта нет"
    # would be invented; only the facts and earlier answers ground it.
    item = data(
        "Сайта у нас нет, но я отвечу здесь на любой вопрос.", customer=["Сайт у вас есть?"]
    )
    assert "false_denial" in guard.check(item)
    said_before = data(
        "Как я писала, сайта у нас нет.", previous_answers=["Отдельного сайта у нас нет."]
    )
    assert "false_denial" not in guard.check(said_before)


def test_a_negated_ability_is_a_denial_not_a_capability() -> None:
    assert not invented_capability("Подарочные сертификаты программа не поддерживает.", SAID, 0.5)


def test_a_side_denial_is_cut_out_of_the_draft(guard: Guard) -> None:
    item = data(
        "Да, касса продолжает продавать и пробивать чеки без интернета, а когда связь "
        "вернётся, чеки сами уйдут в ОФД. Мобильного приложения для владельца у нас нет.",
        message="Касса без интернета будет работать?",
    )
    codes = guard.check(item)
    assert codes == ["false_denial"]
    assert guard.edit(item, codes) == (
        "Да, касса продолжает продавать и пробивать чеки без интернета, а когда связь "
        "вернётся, чеки сами уйдут в ОФД."
    )


def test_a_denial_that_was_the_answer_is_regenerated_and_repaired_honestly(
    guard: Guard,
) -> None:
    item = data(
        "Нет, с Instagram Wipon не работает. Касса без интернета продолжает продавать.",
        message="А с Instagram-магазином Wipon работает?",
    )
    codes = guard.check(item)
    assert codes == ["false_denial"]
    assert guard.edit(item, codes) is None  # "Instagram" went with the cut
    repaired = guard.repair(item, codes)
    assert "Instagram" not in repaired and "уточню" in repaired.lower()


def test_edit_keeps_what_the_customer_asked(guard: Guard) -> None:
    # An invented extra beside the answer goes, and the rest stands.
    extra = data(
        "Экран покупателя показывает товары и сумму чека, а ещё на нём можно крутить "
        "рекламу партнёров.",
        message="А экран покупателя что показывает?",
        kb_facts=["Экран покупателя показывает товары и сумму чека."],
    )
    assert guard.edit(extra, guard.check(extra)) == (
        "Экран покупателя показывает товары и сумму чека."
    )
    # The claim was the answer to the request: the request's words went with it.
    claim = data(
        "Оплата переводом из любого банка, а счёт на Lite мы вам уже отправили.",
        message="Пришлёте счёт на Lite?",
        kb_facts=["Счёт для ТОО с переводом из любого банка."],
    )
    assert guard.check(claim) == ["false_action_claim"]
    assert guard.edit(claim, ["false_action_claim"]) is None


def test_edit_keeps_an_amount_and_whole_questions(guard: Guard) -> None:
    # The only amount was in the cut clause: it may have been what was asked.
    priced = data(
        "Комплект Standard — хороший выбор для одной кассы, а стоит он 360 000 ₸.",
        kb_facts=["Комплект Standard — 168 000 ₸ разово. Комплект PRO — 360 000 ₸ разово."],
    )
    assert guard.check(priced) == ["wrong_product_price"]
    assert guard.edit(priced, ["wrong_product_price"]) is None
    # Two questions where the second continues the first: keeping only the
    # last would leave "Или хватит одного?" standing alone.
    pair = data(
        "Моноблок POS i5 — 160 000 ₸. Вам нужен второй экран? Или хватит одного?",
        kb_facts=["Моноблок POS i5 — 160 000 ₸."],
    )
    assert guard.check(pair) == ["too_many_questions"]
    assert guard.edit(pair, ["too_many_questions"]) is None
    apart = data(
        "Моноблок POS i5 — 160 000 ₸. Вам нужен второй экран? Сколько у вас касс?",
        kb_facts=["Моноблок POS i5 — 160 000 ₸."],
    )
    assert guard.edit(apart, ["too_many_questions"]) == (
        "Моноблок POS i5 — 160 000 ₸. Сколько у вас касс?"
    )


def test_edit_cuts_a_question_asked_in_the_last_answers(guard: Guard) -> None:
    before = ["Понимаю. Обучение занимает 20–30 минут. Кто у вас будет работать с программой?"]
    item = data(
        "Понимаю. Онлайн-обучение через демонстрацию экрана доступно из любого города. "
        "Кто у вас будет работать с программой?",
        previous_answers=before,
        kb_facts=["Онлайн-обучение через демонстрацию экрана доступно из любого города."],
    )
    assert guard.check(item) == ["repeated_answer"]
    assert guard.edit(item, ["repeated_answer"]) == (
        "Понимаю. Онлайн-обучение через демонстрацию экрана доступно из любого города."
    )

"""The guards that ask where a statement comes from: amounts in every wording,
the product an amount is named with, completed actions, capabilities, quoted
text in another language, and a repair that keeps what is grounded."""

from __future__ import annotations

import pytest

from core.settings import load_settings
from rules.guards import Guard, GuardInput, percents, priced_amounts
from rules.guards.actions import completed_action_claim
from rules.guards.binding import misattributed
from rules.guards.capability import invented_capability
from rules.guards.lemmas import Sources
from rules.guards.numerals import spelled_numbers
from rules.guards.text import sentences

KITS = [
    "Похожие названия — разные продукты:\n"
    "• «Тариф Pro» — программа, 500 000 ₸ в год.\n"
    "• «Тариф Standard» — программа, 220 000 ₸ в год; «Комплект Standard» — "
    "оборудование, 168 000 ₸ разово; «Комплект Standard+» — оборудование, 219 000 ₸ разово.",
    "Комплект PRO — кассовое оборудование.\n• Цена: 360 000 ₸ разово.\n"
    "• Это не тариф: программа Pro стоит 500 000 ₸ в год.",
]


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard(load_settings().guards)


def data(answer: str, **kw: object) -> GuardInput:
    base: dict = {"turn": 2, "phase": "presentation", "profile": {}, "kb_facts": KITS}
    base.update(kw)
    return GuardInput(answer=answer, **base)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("девяносто девять тысяч", 99_000),
        ("около девяноста девяти тысяч", 99_000),
        ("полмиллиона", 500_000),
        ("полтора миллиона", 1_500_000),
        ("полторы тысячи", 1_500),
        ("сорока тысяч", 40_000),
        ("двести двадцать тысяч", 220_000),
    ],
)
def test_numbers_in_words(text: str, value: int) -> None:
    assert [n.value for n in spelled_numbers(text)] == [value]


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("Тариф стоит 99 999 KZT в год.", [(99_999, "year")]),
        ("Всего ₸99 999 за комплект.", [(99_999, None)]),
        ("Подписка 99 999 в месяц.", [(99_999, "month")]),
        ("Это девяносто девять тысяч тенге.", [(99_000, None)]),
        ("Комплект обойдётся в полмиллиона тенге.", [(500_000, None)]),
        ("Цена 99.999 ₸ разово.", [(99_999, "once")]),
        ("KZT 12 000 в год", [(12_000, "year")]),
        ("5 000 ₸ 3 раза в месяц", [(5_000, None)]),
        ("Проверяем 2 раза в месяц", []),
        ("у нас 3 магазина и 1500 товаров", []),
    ],
)
def test_price_wordings(text: str, amounts: list[tuple[int, str | None]]) -> None:
    assert priced_amounts(text) == amounts


def test_percentages_in_words() -> None:
    assert percents("скидка двадцать пять процентов") == {25.0}
    assert percents("скидка 15%") == {15.0}


def test_a_dot_inside_a_number_ends_no_sentence() -> None:
    assert sentences("Комплект стоит 99.999 ₸. Берёте?") == ["Комплект стоит 99.999 ₸.", "Берёте?"]


@pytest.mark.parametrize(
    "sentence",
    [
        "Тестовый доступ вам открыт.",
        "Счёт уже ждёт вас в WhatsApp.",
        "Заявка оформлена.",
        "Я отправил вам счёт.",
        "Вам подключили тариф Standard.",
        "Личный кабинет для вас создан, логин пришлю.",
    ],
)
def test_completed_action_claims(sentence: str) -> None:
    assert completed_action_claim(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Мы откроем доступ после оплаты.",
        "Можем отправить счёт в WhatsApp.",
        "После оплаты вам откроют доступ.",
        "Доступ будет открыт в течение дня.",
        "Если вы уже оформили заявку, менеджер свяжется.",
        "Вы оформили заявку на сайте.",
        "Офис открыт с 9 до 18.",
        "Счёт ещё не выставлен.",
        "Вам уже отправили счёт?",
        "Менеджер свяжется с вами, чтобы оформить подключение.",
    ],
)
def test_offers_conditions_and_states_are_no_claims(sentence: str) -> None:
    assert not completed_action_claim(sentence)


def test_a_completed_action_the_facts_state_is_no_claim() -> None:
    facts = Sources.of(["Wipon включён в государственный реестр контрольно-кассовых машин."])
    assert not completed_action_claim("Wipon включён в реестр кассовых машин.", facts)
    assert completed_action_claim("Wipon включён в реестр кассовых машин.", Sources.of([]))


def test_capability_grounded_in_facts_or_conversation() -> None:
    facts = Sources.of(["Экран покупателя показывает товары и сумму чека."])
    assert invented_capability("Второй экран может показывать рекламу партнёров.", facts, 0.5)
    assert not invented_capability("Экран покупателя может показывать сумму чека.", facts, 0.5)
    talk = Sources.of(["А можно печатать ценники со штрихкодом?"])
    assert not invented_capability("Да, ценники со штрихкодом печатать можно.", talk, 0.5)
    # A supposition or an offer is no capability.
    assert not invented_capability("Сейчас может казаться, что всё работает.", facts, 0.5)
    assert not invented_capability("Вы можете оставить номер телефона.", facts, 0.5)


@pytest.mark.parametrize(
    ("answer", "wrong"),
    [
        ("Комплект Standard — 360 000 ₸ разово.", [360_000]),
        ("Тариф Pro — 360 000 ₸ в год.", [360_000]),
        ("Комплект PRO стоит 500 000 ₸.", [500_000]),
        ("Комплект Standard+ стоит 168 000 ₸.", [168_000]),
        ("Комплект PRO — 360 000 ₸ разово.", []),
        ("Тариф Pro стоит 500 000 ₸ в год, а комплект PRO — 360 000 ₸ разово.", []),
        ("Комплект PRO стоит триста шестьдесят тысяч тенге.", []),
        ("Тариф Standard — 220 000 ₸ в год, комплект Standard — 168 000 ₸.", []),
    ],
)
def test_amount_and_product_belong_together(answer: str, wrong: list[int]) -> None:
    assert misattributed(answer, KITS) == wrong


def test_wrong_product_price_code_and_clause_repair(guard: Guard) -> None:
    item = data(
        "Комплект PRO стоит 360 000 ₸, а комплект Standard — 360 000 ₸. Сколько у вас касс?"
    )
    codes = guard.check(item)
    assert codes == ["wrong_product_price"]
    fixed = guard.repair(item, codes)
    assert fixed.startswith("Комплект PRO стоит 360 000 ₸.")
    assert "Standard" not in fixed and fixed.endswith("Сколько у вас касс?")


def test_kazakh_quoted_from_the_facts_is_russian(guard: Guard) -> None:
    facts = ["Офис Wipon: г. Астана, проспект Мәңгілік Ел, 55/20, БЦ «Нұрлы Орда»."]
    answer = "Наш офис: г. Астана, проспект Мәңгілік Ел, 55/20, БЦ «Нұрлы Орда». Приезжайте!"
    assert guard.check(data(answer, kb_facts=facts)) == []
    assert guard.check(data("Рахмет! Сізге көмектесеміз.", kb_facts=facts)) == ["not_russian"]


def test_the_customers_own_words_are_russian(guard: Guard) -> None:
    answer = "Айгүл, спасибо! Менеджер свяжется с вами сегодня."
    assert guard.check(data(answer, customer=["Мені Айгүл деп атайды"])) == []


def test_repair_keeps_the_grounded_sentences(guard: Guard) -> None:
    item = data(
        "Тариф Pro стоит 500 000 ₸ в год. Доступ к программе вам уже открыт. Сколько у вас точек?"
    )
    codes = guard.check(item)
    assert codes == ["false_action_claim"]
    assert guard.repair(item, codes) == "Тариф Pro стоит 500 000 ₸ в год. Сколько у вас точек?"


def test_repair_drops_only_the_sentence_in_another_language(guard: Guard) -> None:
    item = data("Тариф Pro стоит 500 000 ₸ в год. Sure, we will send the details soon!")
    codes = guard.check(item)
    assert "not_russian" in codes
    assert guard.repair(item, codes) == "Тариф Pro стоит 500 000 ₸ в год."


def test_repair_never_leaves_a_fragment_of_a_removed_figure(guard: Guard) -> None:
    item = data("Тариф Pro стоит 500 000 ₸ в год. Доставка — 99.999 ₸.")
    fixed = guard.repair(item, guard.check(item))
    assert "99" not in fixed

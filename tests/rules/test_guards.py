"""Each guard violation is caught, and the repair removes it."""

from __future__ import annotations

import pytest

from core.settings import load_settings
from core.taxonomy import GUARD_CODES
from rules.guards import Guard, GuardInput, priced_amounts
from rules.prompts import VIOLATION_HINTS

FACTS = ["Тариф Standard — 220 000 ₸ в год.\nКомплект оборудования — 168 000 ₸."]


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard(load_settings().guards)


def data(answer: str, **kw: object) -> GuardInput:
    base: dict = {"turn": 2, "phase": "presentation", "profile": {}, "kb_facts": FACTS}
    base.update(kw)
    return GuardInput(answer=answer, **base)


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("Стоит 220 000 ₸ в год", [(220000, "year")]),
        ("всего 220000 тенге", [(220000, None)]),
        ("от 15 тыс. тг/мес", [(15000, "month")]),
        ("около $300 ежемесячно", [(300, "month")]),
        ("2 500 руб. разово", [(2500, "once")]),
        ("5 000 ₸ в месяц, то есть 60 000 ₸ за год", [(5000, "month"), (60000, "year")]),
        ("150 000 ₸, годовая подписка", [(150000, None)]),
        ("у нас 3 магазина и 1500 товаров", []),
        ("звоните 8 701 234 56 78", []),
    ],
)
def test_priced_amounts(text: str, amounts: list[tuple[int, str | None]]) -> None:
    assert priced_amounts(text) == amounts


def test_clean_answer_passes(guard: Guard) -> None:
    answer = "Тариф Standard стоит 220 000 ₸ в год. Сколько у вас точек?"
    assert guard.check(data(answer)) == []


def test_invented_price(guard: Guard) -> None:
    answer = "Тариф Standard стоит 99 000 ₸ в год, а комплект — 168 000 ₸."
    assert guard.check(data(answer)) == ["unknown_price"]


def test_price_on_allow_list_is_fine() -> None:
    settings = load_settings()
    cfg = settings.guards.model_copy(update={"price_allow_list": [99000]})
    assert Guard(cfg).check(data("Доставка обойдётся в 99 000 тенге.")) == []


def test_greeting_after_first_turn(guard: Guard) -> None:
    assert guard.check(data("Здравствуйте! Тариф Standard — 220 000 ₸.")) == ["greeting_repeated"]
    assert guard.check(data("Меня зовут Алия, я менеджер Wipon.")) == ["greeting_repeated"]
    assert guard.check(data("Здравствуйте! Чем могу помочь?", turn=1)) == []


def test_two_questions(guard: Guard) -> None:
    assert guard.check(data("Какой у вас магазин? А сколько точек?")) == ["too_many_questions"]


def test_no_question_when_closing_softly(guard: Guard) -> None:
    codes = guard.check(data("Спасибо за время! Может, всё же попробуете?", phase="soft_close"))
    assert codes == ["too_many_questions"]


def test_reasked_known_field(guard: Guard) -> None:
    answer = "Подскажите, в каком городе вы находитесь?"
    assert guard.check(data(answer, profile={"city": "Алматы"})) == ["reasked_known_field"]
    assert guard.check(data(answer, profile={})) == []


def test_not_russian(guard: Guard) -> None:
    assert "not_russian" in guard.check(data("Sure, the Standard plan is a great choice for you."))
    assert "not_russian" in guard.check(data("Сәлеметсіз бе, бағасы қанша екенін айтамын."))
    assert guard.check(data("Wipon Pro подойдёт для сети магазинов.")) == []


def test_empty(guard: Guard) -> None:
    assert guard.check(data("   ")) == ["empty"]


def test_false_action_claims(guard: Guard) -> None:
    assert guard.check(data("Счёт отправлен вам на почту.")) == ["false_action_claim"]
    assert guard.check(data("Я записала ваш ИИН.")) == ["false_action_claim"]
    assert guard.check(data("Я записала ваш ИИН.", profile={"iin": "900101300123"})) == []


def test_too_long(guard: Guard) -> None:
    assert "too_long" in guard.check(data("Программа удобная. " * 60))


def test_repeated_answer(guard: Guard) -> None:
    previous = ["Тариф Standard стоит 220 000 ₸ в год."]
    codes = guard.check(data("Тариф Standard стоит 220 000 ₸ в год.", previous_answers=previous))
    assert codes == ["repeated_answer"]


def test_repair_drops_offending_sentences(guard: Guard) -> None:
    answer = (
        "Здравствуйте! Тариф Standard стоит 220 000 ₸ в год. Скидка 90% — 22 000 ₸. "
        "Счёт отправлен. Какой у вас бизнес? Сколько точек?"
    )
    item = data(answer, profile={"business_type": "аптека"})
    fixed = guard.repair(item, guard.check(item))
    assert guard.check(data(fixed, profile={"business_type": "аптека"})) == []
    assert "220 000 ₸" in fixed
    assert "22 000" not in fixed
    assert "Здравствуйте" not in fixed
    assert "Счёт" not in fixed
    # The "I'll check" sentence replaces the dropped figure; the question stays last.
    assert fixed.endswith(load_settings().guards.unknown_fact_answer + " Сколько точек?")


def test_repair_of_unusable_answer_is_the_fallback(guard: Guard) -> None:
    fallback = load_settings().guards.fallback_answer
    assert guard.repair(data("Sure thing!"), ["not_russian"]) == fallback
    assert guard.repair(data(""), ["empty"]) == fallback


def test_latin_product_names_are_russian_enough(guard: Guard) -> None:
    assert guard.check(data("Тариф Standard — 220 000 ₸.")) == []
    assert "not_russian" in guard.check(data("ok, the price is fine"))


def test_invented_percentage(guard: Guard) -> None:
    facts = ["Скидка 10% при оплате за год. Комиссия 0,5% за эквайринг."]
    assert guard.check(data("Дадим скидку 90%!", kb_facts=facts)) == ["unknown_percent"]
    assert guard.check(data("Скидка 10% при оплате за год.", kb_facts=facts)) == []
    assert guard.check(data("Комиссия всего 0,5 процента.", kb_facts=facts)) == []
    fixed = guard.repair(
        data("Дадим скидку 90%. Тариф Mini подойдёт.", kb_facts=facts), ["unknown_percent"]
    )
    assert "90" not in fixed and fixed.startswith("Тариф Mini подойдёт.")


@pytest.mark.parametrize(
    "claim",
    [
        "Мы отправили вам счёт на оплату.",
        "Счета уже выставлены.",
        "Я выслала вам счёт.",
        "Заказ оформлен, ждите звонка.",
        "Мы подключили вам тариф Standard.",
    ],
)
def test_action_claims_in_their_common_forms(guard: Guard, claim: str) -> None:
    assert guard.check(data(claim)) == ["false_action_claim"]


@pytest.mark.parametrize(
    "question",
    ["Подскажите, чем занимается ваш бизнес?", "Какой у вас вид бизнеса?", "Что вы продаёте?"],
)
def test_reasking_the_business_type(guard: Guard, question: str) -> None:
    assert guard.check(data(question, profile={"business_type": "аптека"})) == [
        "reasked_known_field"
    ]


def test_an_answer_without_facts_must_say_it_will_check(guard: Guard) -> None:
    claim = "Да, интеграция с Битрикс24 есть."
    assert guard.check(data(claim, kb_facts=[], unanswerable=True)) == ["ungrounded_answer"]
    honest = "Про Битрикс24 уточню у коллег и вернусь с ответом."
    assert guard.check(data(honest, kb_facts=[], unanswerable=True)) == []
    assert guard.check(data(claim, kb_facts=[], unanswerable=False)) == []
    repaired = guard.repair(data(claim, kb_facts=[], unanswerable=True), ["ungrounded_answer"])
    assert repaired == load_settings().guards.unknown_fact_answer


@pytest.mark.parametrize(
    ("question", "field"),
    [
        ("Оставьте, пожалуйста, телефон.", "phone"),
        ("На какой номер вам перезвонить?", "phone"),
        ("Где находится ваш магазин?", "city"),
    ],
)
def test_more_reask_phrasings(guard: Guard, question: str, field: str) -> None:
    assert guard.check(data(question, profile={field: "x"})) == ["reasked_known_field"]
    assert guard.check(data(question, profile={})) == []


def test_edit_cuts_a_repeated_greeting_and_keeps_what_follows_it(guard: Guard) -> None:
    own_sentence = data("Здравствуйте! Тариф Standard стоит 220 000 ₸ в год, до трёх точек.")
    assert guard.edit(own_sentence, guard.check(own_sentence)) == (
        "Тариф Standard стоит 220 000 ₸ в год, до трёх точек."
    )
    same_sentence = data("Добрый день, рады, что вы снова с нами! Сколько у вас точек?")
    assert guard.edit(same_sentence, guard.check(same_sentence)) == (
        "Рады, что вы снова с нами! Сколько у вас точек?"
    )


def test_edit_cuts_a_reasked_field_and_keeps_a_question_a_request_needs(guard: Guard) -> None:
    known = {"phone": "77012345678"}
    statement = data(
        "Тариф Standard — 220 000 ₸ в год. Оставьте номер телефона, менеджер перезвонит. "
        "Сколько у вас точек?",
        profile=known,
    )
    assert guard.check(statement) == ["reasked_known_field"]
    assert guard.edit(statement, ["reasked_known_field"]) == (
        "Тариф Standard — 220 000 ₸ в год. Сколько у вас точек?"
    )
    # The re-ask is the answer's only question: without a request waiting for
    # data the answer stands without it; while the customer's request (an
    # invoice) still lacks a field, the question must ask for that one instead,
    # so the draft is regenerated.
    question = data("Тариф Standard — 220 000 ₸ в год. На какой номер позвонить?", profile=known)
    assert guard.check(question) == ["reasked_known_field"]
    assert guard.edit(question, ["reasked_known_field"]) == "Тариф Standard — 220 000 ₸ в год."
    waiting = data(
        "Тариф Standard — 220 000 ₸ в год. На какой номер позвонить?",
        profile=known,
        wanted=["city"],
    )
    assert guard.edit(waiting, ["reasked_known_field"]) is None


def test_edit_refuses_what_a_cut_cannot_fix(guard: Guard) -> None:
    invented = data("Тариф Standard стоит 199 000 ₸ в год.")
    assert guard.check(invented) == ["unknown_price"]
    assert guard.edit(invented, ["unknown_price"]) is None
    # Too little would be left: "Спасибо!" is not an answer.
    bare = data("Спасибо! Оставьте номер телефона, менеджер перезвонит.", profile={"phone": "7701"})
    assert guard.edit(bare, guard.check(bare)) is None
    assert guard.edit(data("Тариф Standard — 220 000 ₸ в год."), []) is None


def test_every_guard_code_has_a_regeneration_hint() -> None:

    assert set(VIOLATION_HINTS) == set(GUARD_CODES)


CITY_FACTS = [
    "Текущие предложения:\n"
    "• В Шымкенте к открытию филиала действовала скидка 30% на тарифы Lite и Standard.\n"
    "• Моноблок продаётся по акции за 240 000 ₸.",
    "Доставка:\n• По Алматы и Астане доставка бесплатна при заказе от 140 000 ₸.",
]


@pytest.mark.parametrize(
    ("answer", "city", "codes"),
    [
        # A city's discount promised to a customer elsewhere is invented for them.
        ("Сейчас есть скидка 30% на тариф Lite.", "Алматы", ["other_city_figure"]),
        ("Сейчас есть скидка 30% на тариф Lite.", None, ["other_city_figure"]),
        ("Для вас скидка 30% на тариф Lite.", "Шымкент", []),
        ("Для вас скидка 30% на тариф Lite.", "г. Шымкент", []),
        # Said with its city, the figure is what the KB says.
        ("В Шымкенте действовала скидка 30% на Lite.", "Алматы", []),
        ("Доставка бесплатна при заказе от 140 000 ₸.", "Караганда", ["other_city_figure"]),
        ("Доставка бесплатна при заказе от 140 000 ₸.", "Астана", []),
        ("По Алматы доставка бесплатна от 140 000 ₸.", "Караганда", []),
        # A figure of a line without a city is allowed anywhere.
        ("Моноблок сейчас по акции за 240 000 ₸.", "Караганда", []),
        # The city of an earlier sentence carries over; a named city wins over the
        # customer's own.
        ("В Шымкенте открылся филиал. Там действовала скидка 30%.", "Алматы", []),
        ("В Алматы действует скидка 30% на Lite.", "Шымкент", ["other_city_figure"]),
    ],
)
def test_a_city_figure_is_promised_only_for_its_city(
    guard: Guard, answer: str, city: str | None, codes: list[str]
) -> None:
    profile = {"city": city} if city else {}
    assert guard.check(data(answer, profile=profile, kb_facts=CITY_FACTS)) == codes


def test_a_figure_the_kb_also_gives_without_a_city_is_allowed_anywhere(guard: Guard) -> None:
    facts = [*CITY_FACTS, "Комплект Standard+ — 140 000 ₸."]
    answer = "Комплект Standard+ стоит 140 000 ₸."
    assert guard.check(data(answer, profile={"city": "Павлодар"}, kb_facts=facts)) == []


def test_repair_drops_a_city_discount_promised_elsewhere(guard: Guard) -> None:
    item = data(
        "Тариф Standard — 220 000 ₸ в год. Сейчас на него скидка 30%.",
        profile={"city": "Алматы"},
        kb_facts=[*FACTS, *CITY_FACTS],
    )
    repaired = guard.repair(item, guard.check(item))
    assert "30%" not in repaired and "220 000 ₸" in repaired


def test_a_plain_number_elsewhere_does_not_make_a_city_discount_general(guard: Guard) -> None:
    facts = [*CITY_FACTS, "Поддержка отвечает за 30 минут."]
    answer = "Сейчас на тариф Lite действует скидка 30%."
    assert guard.check(data(answer, profile={"city": "Алматы"}, kb_facts=facts)) == [
        "other_city_figure"
    ]


@pytest.mark.parametrize(
    ("answer", "codes"),
    [
        ("В ряде областей ставка 2 процента.", []),
        ("Ставка розничного налога 3 процента.", ["other_city_figure"]),
        ("В Астане ставка 3 процента.", []),
    ],
)
def test_figures_are_scoped_by_clause_not_by_line(
    guard: Guard, answer: str, codes: list[str]
) -> None:
    facts = ["Ставки по СНР:\n• Примеры: в ряде областей 2 процента, в Астане 3 процента"]
    assert guard.check(data(answer, profile={"city": "Караганда"}, kb_facts=facts)) == codes


@pytest.mark.parametrize(
    ("fact", "answer", "elsewhere", "home"),
    [
        # A "Город:" parameter.
        (
            "Доставка по городу.\n• Город: Алматы\n• Бесплатная доставка: от 140 000 ₸",
            "Доставка бесплатная от 140 000 ₸.",
            "Астана",
            "Алматы",
        ),
        # A summary line that names a city.
        (
            "Акция в Шымкенте — специальное предложение при открытии филиала.\n• Скидка: 30%",
            "Сейчас действует скидка 30% на тарифы Lite и Standard.",
            "Алматы",
            "Шымкент",
        ),
    ],
)
def test_a_city_named_for_the_whole_section_scopes_its_figures(
    guard: Guard, fact: str, answer: str, elsewhere: str, home: str
) -> None:
    facts = [fact]
    assert guard.check(data(answer, profile={"city": elsewhere}, kb_facts=facts)) == [
        "other_city_figure"
    ]
    assert guard.check(data(answer, profile={"city": home}, kb_facts=facts)) == []


def test_both_ends_of_a_percent_range_are_given(guard: Guard) -> None:
    facts = ["Скидка 10–15% при оплате за два года."]
    assert guard.check(data("Скидка 10% при оплате за два года.", kb_facts=facts)) == []
    assert guard.check(data("Скидка 20% при оплате за два года.", kb_facts=facts)) == [
        "unknown_percent"
    ]


def test_figures_written_with_abbreviations_are_checked(guard: Guard) -> None:
    # "тыс." must not end the sentence before its currency.
    assert guard.check(data("Моноблок стоит 199 тыс. ₸ в год.")) == ["unknown_price"]
    assert guard.check(data("Тариф Standard — 220 тыс. ₸ в год.")) == []
    facts = ["Оборот сети — 1,5 млн ₸ в месяц."]
    assert guard.check(data("Оборот — 1,5 млн ₸ в месяц.", kb_facts=facts)) == []


def test_zero_and_hundred_percent_promise_nothing(guard: Guard) -> None:
    facts = ["Рассрочка Kaspi 0-0-12 без переплаты."]
    assert guard.check(data("Рассрочка Kaspi 0-0-12: 0% переплаты.", kb_facts=facts)) == []
    assert guard.check(data("Данные на 100% в облаке.", kb_facts=facts)) == []


@pytest.mark.parametrize(
    ("answer", "city", "codes"),
    [
        # Every city a sentence names must be within the figure's scope.
        (
            "В Алматы, Астане и Шымкенте доставка бесплатна от 140 000 ₸.",
            "Шымкент",
            ["other_city_figure"],
        ),
        ("В Алматы и Астане доставка бесплатна от 140 000 ₸.", "Шымкент", []),
        # An unrelated city in an earlier sentence does not carry over.
        ("Офис у нас есть и в Шымкенте. Доставка бесплатна от 140 000 ₸.", "Алматы", []),
        (
            "Головной офис в Астане. Доставка бесплатна от 140 000 ₸.",
            "Караганда",
            ["other_city_figure"],
        ),
    ],
)
def test_the_cities_an_answer_speaks_of(
    guard: Guard, answer: str, city: str, codes: list[str]
) -> None:
    assert guard.check(data(answer, profile={"city": city}, kb_facts=CITY_FACTS)) == codes


@pytest.mark.parametrize(
    ("fact", "answer", "city", "codes"),
    [
        # A list of cities before a figure scopes it to all of them.
        (
            "• Выезд специалиста: Алматы, Астана, Шымкент — 30 000 ₸",
            "Выезд стоит 30 000 ₸.",
            "Алматы",
            [],
        ),
        (
            "• Выезд специалиста: Алматы, Астана, Шымкент — 30 000 ₸",
            "Выезд стоит 30 000 ₸.",
            "Караганда",
            ["other_city_figure"],
        ),
        # A list of cities after a figure, to the end of the line or of a
        # parenthesis, scopes it to all of them.
        (
            "• Бесплатная доставка: от 140 000 ₸ (Алматы, Астана), в регионах — 3 000 ₸",
            "Доставка бесплатна от 140 000 ₸.",
            "Астана",
            [],
        ),
        (
            "• Бесплатная доставка: от 140 000 ₸ (Алматы, Астана), в регионах — 3 000 ₸",
            "Доставка бесплатна от 140 000 ₸.",
            "Караганда",
            ["other_city_figure"],
        ),
        (
            "Выезд специалиста.\n• Бесплатно при заказе от 50 000 ₸ — Алматы, Шымкент",
            "Выезд бесплатный при заказе от 50 000 ₸.",
            "Караганда",
            ["other_city_figure"],
        ),
        (
            "Выезд специалиста.\n• Бесплатно при заказе от 50 000 ₸ — Алматы, Шымкент",
            "Выезд бесплатный при заказе от 50 000 ₸.",
            "Шымкент",
            [],
        ),
        # Nor does a parenthesis that names the cities a countrywide figure is not for.
        (
            "Доставка оборудования.\n• Доставка по Казахстану 3 000 ₸ (кроме Алматы, Астаны)",
            "Доставка к вам стоит 3 000 ₸.",
            "Караганда",
            [],
        ),
        # A city that begins the next statement does not scope the figure before it.
        (
            "Доставка оборудования.\n• Доставка 3 000 ₸, Алматы — бесплатно.",
            "Доставка к вам стоит 3 000 ₸.",
            "Караганда",
            [],
        ),
        # A new sentence about the other cities is countrywide.
        (
            "В Алматы доставка бесплатная от 140 000 ₸. В другие города — 3 000 ₸.",
            "Доставка к вам стоит 3 000 ₸.",
            "Караганда",
            [],
        ),
        # "кроме Алматы" names the cities a figure is not for.
        (
            "Доставка по Казахстану, кроме Алматы и Астаны, — 3 000 ₸.",
            "Доставка к вам стоит 3 000 ₸.",
            "Караганда",
            [],
        ),
    ],
)
def test_fact_scopes(guard: Guard, fact: str, answer: str, city: str, codes: list[str]) -> None:
    assert guard.check(data(answer, profile={"city": city}, kb_facts=[fact])) == codes


def test_repair_rechecks_what_pointed_back_to_a_dropped_sentence(guard: Guard) -> None:
    item = data(
        # The first sentence goes whole (its only clause names an invented
        # price), so "там же" no longer points to Шымкент.
        "В Шымкенте выезд мастера стоит 15 000 ₸. Там же скидка 30% на Lite.",
        profile={"city": "Алматы"},
        kb_facts=CITY_FACTS,
    )
    fixed = guard.repair(item, guard.check(item))
    assert "30%" not in fixed
    assert guard.check(data(fixed, profile={"city": "Алматы"}, kb_facts=CITY_FACTS)) == []


# "Lite — 150 000 ₸ в месяц" names the KB's number for a price twelve times off:
# an amount's period must be one the facts give it with.
PERIOD_FACTS = [
    "Тарифы Wipon:\n• Mini — 5 000 ₸ в месяц.\n• Lite — 150 000 ₸ в год.\n"
    "• ТИС в рассрочку: 265 000 ₸ в год, или 22 084 ₸ в месяц.\n"
    "• Комплект Standard — 168 000 ₸ разово.\n• Моноблок POS DUO — 220 000 ₸.",
    "Тариф Standard — 220 000 ₸ в год.",
]


@pytest.mark.parametrize(
    ("answer", "codes"),
    [
        ("Тариф Lite стоит 150 000 ₸ в год.", []),
        ("Тариф Lite стоит 150 000 ₸ за год.", []),
        ("Тариф Lite стоит 150 000 ₸ в месяц.", ["wrong_price_period"]),
        ("Тариф Lite — 150 000 тенге ежемесячно.", ["wrong_price_period"]),
        ("Тариф Mini — 5 000 ₸/мес.", []),
        ("Тариф Mini — 5 000 ₸ в год.", ["wrong_price_period"]),
        ("Рассрочка ТИС — 22 084 ₸ в месяц, всего 265 000 ₸ в год.", []),
        ("Рассрочка ТИС — 22 084 ₸ в год.", ["wrong_price_period"]),
        ("Комплект Standard — 168 000 ₸ в месяц.", ["wrong_price_period"]),
        ("Комплект Standard — 168 000 ₸ единоразово.", []),
        # An amount without a period, or with the period before it, is not judged.
        ("Тариф Lite стоит 150 000 ₸, это годовая подписка.", []),
        ("В месяц Mini стоит 5 000 ₸.", []),
        # The facts also give 220 000 ₸ without a period (POS DUO): not judged.
        ("Тариф Standard — 220 000 ₸ в месяц.", []),
    ],
)
def test_an_amount_is_named_with_a_period_the_facts_give(
    guard: Guard, answer: str, codes: list[str]
) -> None:
    assert guard.check(data(answer, kb_facts=PERIOD_FACTS)) == codes


def test_repair_drops_an_amount_with_the_wrong_period(guard: Guard) -> None:
    item = data(
        "Тариф Mini — 5 000 ₸ в месяц. Lite обойдётся в 150 000 ₸ в месяц. Сколько у вас точек?",
        kb_facts=PERIOD_FACTS,
    )
    assert guard.check(item) == ["wrong_price_period"]
    fixed = guard.repair(item, guard.check(item))
    assert "150 000" not in fixed and "5 000 ₸ в месяц" in fixed
    assert fixed.endswith(load_settings().guards.unknown_fact_answer + " Сколько у вас точек?")
    assert guard.check(data(fixed, kb_facts=PERIOD_FACTS)) == []


def test_the_configured_fixed_answers_pass_the_guard_for_a_question_without_facts(
    guard: Guard,
) -> None:
    """The texts the guard itself falls back to must not break its own check: an
    answer to a question the KB cannot answer has to say it will find out."""
    cfg = load_settings().guards
    for text in (cfg.fallback_answer, *cfg.fallback_rephrasings):
        assert "ungrounded_answer" not in guard.check(data(text, kb_facts=[], unanswerable=True)), (
            text
        )

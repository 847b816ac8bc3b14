"""Bare greetings, thanks and goodbyes, and messages that only hand over contact
data, skip the analysis call; anything that says more still goes to the model."""

from __future__ import annotations

import pytest

from core.settings import load_settings
from graph.builder import compile_graph
from graph.context import build_services
from graph.memory import open_checkpointer
from graph.turn import run_turn
from rules.smalltalk import social_intent
from tests.support.replies import analysis


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Здравствуйте!", "greeting"),
        ("добрый день", "greeting"),
        ("Доброго времени суток", "greeting"),
        ("Привет 😊", "greeting"),
        ("Сәлеметсіз бе", "greeting"),
        ("Спасибо большое!", "gratitude"),
        ("Рахмет", "gratitude"),
        ("спс", "gratitude"),
        ("Спасибо, до свидания", "farewell"),
        ("Всего доброго!", "farewell"),
        ("Сау болыңыз", "farewell"),
        ("Спасибо, и вам хорошего дня", "farewell"),
    ],
)
def test_social_formulas_are_recognised(text: str, intent: str) -> None:
    assert social_intent(text) == intent


@pytest.mark.parametrize(
    "text",
    [
        "Здравствуйте, сколько стоит Mini?",
        "Привет, у меня аптека",
        "Спасибо, но нам не интересно",  # a refusal, not thanks
        "Рахмет, жду",
        "ок",  # its meaning depends on the bot's last question
        "да",
        "Хорошо, спасибо",
        "👍",
        "",
        "Добрый день, 87012345678",  # contacts go through the analysis
    ],
)
def test_anything_more_goes_to_the_model(text: str) -> None:
    assert social_intent(text) is None


async def test_a_bare_greeting_takes_one_call_and_no_kb_search(stub, env) -> None:
    settings = load_settings()
    services = build_services(settings)
    stub.push("Здравствуйте! Это Wipon. Чем занимается ваш бизнес?")
    async with open_checkpointer(settings.env.db_path) as saver:
        result = await run_turn(compile_graph(saver), services, "BOT", "7701", "Здравствуйте!")

    assert result.intent == "greeting"
    assert result.llm_calls == 1
    assert result.kb_topics == [] and not result.kb_used
    assert result.profile == {}
    assert result.phase == "discovery"
    calls = stub.chat_requests()
    assert len(calls) == 1 and "format" not in calls[0], "only the plain-text answer call"


async def test_a_bare_phone_takes_one_call_and_lands_in_the_profile(stub, env) -> None:
    settings = load_settings()
    services = build_services(settings)
    stub.push("Спасибо! Менеджер свяжется с вами. Чем занимается ваш бизнес?")
    async with open_checkpointer(settings.env.db_path) as saver:
        result = await run_turn(
            compile_graph(saver), services, "BOT", "7702", "Мой номер 8 701 234 56 78"
        )

    assert result.intent == "share_contacts"
    assert result.llm_calls == 1
    assert result.profile == {"phone": "77012345678"}
    assert result.kb_topics == [] and not result.kb_used
    # No outcome was asked for: closing, which collects what the manager still needs.
    assert result.phase == "closing" and result.outcome is None
    calls = stub.chat_requests()
    assert len(calls) == 1 and "format" not in calls[0], "only the plain-text answer call"


async def test_a_contact_with_a_request_still_goes_to_the_model(stub, env) -> None:
    settings = load_settings()
    services = build_services(settings)
    stub.push(
        analysis("share_contacts", profile={"contact_name": "Айгерим"}),
        "Спасибо, Айгерим! Менеджер позвонит вам.",
    )
    async with open_checkpointer(settings.env.db_path) as saver:
        result = await run_turn(
            compile_graph(saver), services, "BOT", "7703", "Айгерим, 87015553344, позвоните мне"
        )

    assert result.llm_calls == 2
    assert result.intent == "share_contacts"
    assert result.profile["phone"] == "77015553344"


@pytest.mark.parametrize(
    ("flag", "text", "intent", "profile"),
    [
        ("smalltalk_without_llm", "Здравствуйте!", "greeting", {}),
        (
            "contacts_without_llm",
            "Айгерим, 87015553344",
            "share_contacts",
            {"contact_name": "Айгерим", "phone": "77015553344"},
        ),
    ],
)
async def test_a_flag_off_sends_its_messages_to_the_model(
    stub, env, monkeypatch: pytest.MonkeyPatch, flag: str, text: str, intent: str, profile: dict
) -> None:
    monkeypatch.setenv(f"FF_{flag}", "false")
    settings = load_settings()
    assert getattr(settings.flags, flag) is False
    services = build_services(settings)
    stub.push(analysis(intent, profile={"contact_name": "Айгерим"} if profile else {}), "Спасибо!")
    async with open_checkpointer(settings.env.db_path) as saver:
        result = await run_turn(compile_graph(saver), services, "BOT", "7704", text)

    assert result.intent == intent
    assert result.llm_calls == 2
    assert len(stub.chat_requests()) == 2
    assert result.profile == profile

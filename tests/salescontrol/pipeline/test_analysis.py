"""The upsell analysis of one dialogue, through the real ChatOllama client against the
Ollama-protocol stub: what the request carries, how a reply becomes the result, the
repair of an invalid reply (a quote not in the transcript, inconsistent fields), the
failure after it, the skip rule, and the labelled dev dialogues."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from core.llm import LLM, LLMUnavailable
from core.metrics import llm_metrics
from core.settings import AnalysisSettings, Business, Settings, load_settings
from salescontrol.pipeline.analysis.analyse import AnalysisFailed, analyse
from salescontrol.pipeline.analysis.prompts import PROMPT_VERSION
from salescontrol.pipeline.analysis.schema import occurs
from salescontrol.pipeline.messages import DialogueText
from tests.support import SHARED
from tests.support.ollama_stub import OllamaStub

TEXT = (
    "Здравствуйте! Что для вас? Капучино, пожалуйста. Большой или средний? "
    "Большой всего на двести тенге дороже. Давайте большой. С вас тысяча двести тенге."
)
OFFER = "Большой или средний? Большой всего на двести тенге дороже."
CFG = AnalysisSettings()


def reply(**changes: Any) -> dict[str, Any]:
    """A valid judgement of TEXT, with `changes`."""
    value: dict[str, Any] = {
        "evidence": [OFFER],
        "closing_question": OFFER,
        "attempted": "yes",
        "categories": ["coffee_size"],
        "quality": 3,
        "customer_reaction": "accepted",
        "summary": "Продавец предложил больший объём с выгодой, покупатель согласился.",
        "confidence": 0.9,
    }
    return value | changes


def dialogue(
    text: str = TEXT, speech_s: float = 12.0, business: str = "coffee_shop"
) -> DialogueText:
    return DialogueText(
        dialogue_id=uuid.uuid4(), business=business, speech_s=speech_s, text=text, segments=[]
    )


@pytest.fixture(scope="module")
def server() -> Iterator[OllamaStub]:
    # One server for the module (stopping one takes half a second), reset per test.
    with OllamaStub() as started:
        yield started


@pytest.fixture
def stub(server: OllamaStub) -> OllamaStub:
    server.queue.clear()
    server.requests.clear()
    server.set_fault("none")
    return server


@pytest.fixture(scope="module")
def settings(server: OllamaStub) -> Settings:
    return load_settings(environ={"OLLAMA_BASE_URL": server.url})


@pytest.fixture
def llm(settings: Settings) -> LLM:
    cfg = settings.llm.model_copy(update={"http_clients": 1})
    return LLM(cfg, llm_metrics("salescontrol"))


@pytest.fixture
def coffee(settings: Settings) -> Business:
    return settings.salescontrol.businesses["coffee_shop"]


def last_prompt(request: dict[str, Any]) -> str:
    return str(request["messages"][-1]["content"])


async def test_request_carries_the_categories_and_the_transcript(
    stub: OllamaStub, llm: LLM, coffee: Business
) -> None:
    stub.push(reply())
    result = await analyse(dialogue(), coffee, llm, CFG, "model-x")
    (request,) = stub.chat_requests()
    schema = request["format"]
    assert schema["properties"]["categories"]["items"]["enum"] == list(coffee.categories)
    assert schema["properties"]["evidence"]["maxItems"] == CFG.max_evidence
    assert TEXT in last_prompt(request)
    system = request["messages"][0]["content"]
    assert "coffee_size: больший объём напитка" in system
    assert "кофейня" in system
    assert result.model_dump() == {
        "kind": "analysis",
        "status": "done",
        "skip_reason": None,
        **reply(),
        "model": "model-x",
        "prompt_version": PROMPT_VERSION,
    }
    assert re.fullmatch(r"v1-[0-9a-f]{8}", PROMPT_VERSION)


async def test_grocery_gets_its_own_categories(
    stub: OllamaStub, llm: LLM, settings: Settings
) -> None:
    grocery = settings.salescontrol.businesses["grocery"]
    text = "Хлеб и молоко. Пакет нужен? Да, один. Двести тенге за пакет."
    stub.push(
        reply(evidence=["Пакет нужен?"], closing_question="Пакет нужен?", categories=["bags"])
    )
    result = await analyse(dialogue(text, business="grocery"), grocery, llm, CFG, "m")
    enum = stub.chat_requests()[0]["format"]["properties"]["categories"]["items"]["enum"]
    assert enum == list(grocery.categories)
    assert "coffee_size" not in enum
    assert result.categories == ["bags"]


async def test_a_quote_not_in_the_transcript_is_repaired(
    stub: OllamaStub, llm: LLM, coffee: Business
) -> None:
    stub.push(reply(evidence=[OFFER, "Хотите маффин к кофе?"]), reply())
    result = await analyse(dialogue(), coffee, llm, CFG, "m")
    first, second = stub.chat_requests()
    repair = last_prompt(second)
    assert "evidence №2" in repair
    assert "нет в расшифровке" in repair
    assert "маффин" in second["messages"][-2]["content"]  # the invalid reply, shown back
    assert TEXT in last_prompt(first)
    assert result.evidence == [OFFER]


async def test_two_invalid_replies_fail_the_analysis(
    stub: OllamaStub, llm: LLM, coffee: Business
) -> None:
    stub.push(reply(evidence=["Чего-то нет"]), reply(evidence=["Опять не то"]))
    with pytest.raises(AnalysisFailed):
        await analyse(dialogue(), coffee, llm, CFG, "m")
    assert len(stub.chat_requests()) == 2


async def test_a_transport_failure_propagates(stub: OllamaStub, llm: LLM, coffee: Business) -> None:
    stub.set_fault("http_500")
    with pytest.raises(LLMUnavailable):
        await analyse(dialogue(), coffee, llm, CFG, "m")
    assert len(stub.chat_requests()) == 1


@pytest.mark.parametrize(
    ("text", "speech_s", "figure"),
    [("Капучино, пожалуйста.", 5.0, "слов 2, меньше 4"), (TEXT, 1.5, "речи 1.5 с, меньше 2 с")],
)
async def test_too_little_speech_is_skipped_without_a_call(
    stub: OllamaStub, llm: LLM, coffee: Business, text: str, speech_s: float, figure: str
) -> None:
    result = await analyse(dialogue(text, speech_s), coffee, llm, CFG, "m")
    assert result.status == "skipped"
    assert result.skip_reason == figure
    assert result.attempted is None
    assert result.evidence == []
    assert result.prompt_version == PROMPT_VERSION
    assert stub.chat_requests() == []


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"attempted": "no", "customer_reaction": "none", "quality": 0}, 'attempted "no"'),
        ({"attempted": "no"}, 'customer_reaction "none"'),
        ({"customer_reaction": "none"}, 'customer_reaction "none"'),
        ({"categories": []}, 'attempted "yes"'),
        ({"quality": 0}, 'attempted "yes"'),
        ({"categories": ["coffee_size", "coffee_size"]}, "повторяются"),
        ({"categories": ["bags"]}, "categories.0"),
    ],
)
async def test_inconsistent_replies_are_repaired(
    stub: OllamaStub, llm: LLM, coffee: Business, bad: dict[str, Any], reason: str
) -> None:
    stub.push(reply(**bad), reply())
    result = await analyse(dialogue(), coffee, llm, CFG, "m")
    assert reason in last_prompt(stub.chat_requests()[1])
    assert result.attempted == "yes"


async def test_quotes_match_regardless_of_case_yo_and_punctuation(
    stub: OllamaStub, llm: LLM, coffee: Business
) -> None:
    text = "Раф ванильный. Возьмёте ещё что-нибудь? Нет. Тысяча триста тенге."
    quote = "«возьмете ЕЩЕ, что нибудь»"
    stub.push(reply(evidence=[quote], categories=["other"], quality=1))
    result = await analyse(dialogue(text), coffee, llm, CFG, "m")
    assert result.evidence == [quote]  # kept as the model quoted it
    assert len(stub.chat_requests()) == 1


def test_quotes_are_runs_of_whole_words() -> None:
    assert occurs("ТЫСЯЧА двести", TEXT)
    assert occurs("  Капучино ,пожалуйста!  ", TEXT)
    assert not occurs("ысяча двести", TEXT)
    assert not occurs("Капучино средний", TEXT)
    assert not occurs("?!", TEXT)


def _dev_dialogues() -> list[dict[str, Any]]:
    path = SHARED / "salescontrol" / "dialogues_dev.yaml"
    if not path.is_file():
        return []
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["dialogues"])


@pytest.mark.skipif(
    not _dev_dialogues(), reason="../shared/salescontrol is not beside the checkout"
)
@pytest.mark.parametrize("case", _dev_dialogues(), ids=lambda c: str(c["id"]))
async def test_labelled_dialogues_go_through_unchanged(
    stub: OllamaStub, llm: LLM, coffee: Business, case: dict[str, Any]
) -> None:
    """Plumbing, not a model: the stub answers each dev dialogue with its own labels
    (and a seller's line as the quote); the result must carry exactly those labels.
    The text is the turns joined without speaker labels, as the ASR gives it."""
    turns = [str(text) for _, text in case["turns"]]
    labels = case["upsell"]
    attempted = {True: "yes", False: "no"}.get(labels["attempted"], labels["attempted"])
    # The seller's offer follows the customer's first words; with no offer, quote the opening.
    offer = next(str(t) for who, t in case["turns"][1:] if who == "seller")
    quote = offer if attempted == "yes" else turns[0]
    stub.push(
        json.dumps(
            reply(
                evidence=[quote],
                closing_question=quote if attempted == "yes" else None,
                attempted=attempted,
                categories=labels["categories"],
                quality=labels["quality"],
                customer_reaction=labels["customer_reaction"],
            ),
            ensure_ascii=False,
        )
    )
    result = await analyse(dialogue(" ".join(turns)), coffee, llm, CFG, "m")
    assert (
        result.attempted,
        result.categories,
        result.customer_reaction,
        result.quality,
    ) == (attempted, labels["categories"], labels["customer_reaction"], labels["quality"])
    assert all(occurs(q, " ".join(turns)) for q in result.evidence)
    assert len(stub.chat_requests()) == 1

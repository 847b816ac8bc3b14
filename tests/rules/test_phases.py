"""Phase decisions: outcomes wait for the fields they need; code decides."""

from __future__ import annotations

import pytest

from core.settings import load_settings
from rules.analysis import Analysis
from rules.phases import decide_phase, missing_requirements

FULL = {"contact_name": "Айгуль", "business_type": "продукты", "city": "Алматы"}


@pytest.fixture(scope="module")
def flow():  # type: ignore[no-untyped-def]
    return load_settings().flow


def test_requirements() -> None:
    assert missing_requirements(FULL, ["contact", "business_type", "city"]) == []
    by_phone = {"phone": "77012345678", "business_type": "кафе", "city": "Актобе"}
    assert missing_requirements(by_phone, ["contact", "business_type", "city"]) == []
    assert missing_requirements({"city": "Актобе"}, ["contact", "business_type", "city"]) == [
        "contact",
        "business_type",
    ]


def test_ready_to_buy_without_fields_waits_in_closing(flow) -> None:  # type: ignore[no-untyped-def]
    d = decide_phase("presentation", None, None, Analysis(intent="ready_to_buy"), {}, flow)
    assert (d.phase, d.outcome, d.target_outcome) == ("closing", None, "payment_ready")
    # Next turn the customer shares the rest: the remembered outcome is reached.
    d2 = decide_phase(
        "closing", None, d.target_outcome, Analysis(intent="share_contacts"), FULL, flow
    )
    assert (d2.phase, d2.outcome) == ("payment_ready", "payment_ready")


def test_video_call_with_fields(flow) -> None:  # type: ignore[no-untyped-def]
    d = decide_phase("negotiation", None, None, Analysis(intent="video_call_request"), FULL, flow)
    assert (d.phase, d.outcome) == ("video_call_scheduled", "video_call_scheduled")


def test_model_cannot_jump_to_an_outcome_or_close_without_refusal(flow) -> None:  # type: ignore[no-untyped-def]
    guess = Analysis(intent="price_question", next_phase="soft_close")
    assert decide_phase("presentation", None, None, guess, {}, flow).phase == "presentation"


def test_refusal_closes_softly(flow) -> None:  # type: ignore[no-untyped-def]
    d = decide_phase("presentation", None, None, Analysis(intent="refusal"), {}, flow)
    assert (d.phase, d.outcome) == ("soft_close", "soft_close")


def test_soft_close_reopens_on_a_new_question(flow) -> None:  # type: ignore[no-untyped-def]
    reopened = decide_phase(
        "soft_close", "soft_close", None, Analysis(intent="price_question"), {}, flow
    )
    assert (reopened.phase, reopened.outcome) == ("presentation", None)
    stays = decide_phase("soft_close", "soft_close", None, Analysis(intent="gratitude"), {}, flow)
    assert stays.phase == "soft_close"


def test_handoff_is_final(flow) -> None:  # type: ignore[no-untyped-def]
    d = decide_phase("handoff", "handoff", None, Analysis(intent="ready_to_buy"), FULL, flow)
    assert d.phase == "handoff"


def test_objection_phase(flow) -> None:  # type: ignore[no-untyped-def]
    d = decide_phase(
        "presentation", None, None, Analysis(intent="objection", objection_type="price"), {}, flow
    )
    assert d.phase == "objection_handling"


def test_each_request_has_its_own_outcome(flow) -> None:  # type: ignore[no-untyped-def]
    cases = {
        "trial_request": "trial_requested",
        "callback_request": "callback_requested",
        "invoice_request": "payment_ready",
        "demo_request": "video_call_scheduled",
    }
    full = {**FULL, "phone": "77012345678"}
    for intent, outcome in cases.items():
        d = decide_phase("presentation", None, None, Analysis(intent=intent), full, flow)
        assert (d.phase, d.outcome) == (outcome, outcome), intent


def test_a_callback_needs_a_phone_not_a_city(flow) -> None:  # type: ignore[no-untyped-def]
    d = decide_phase("discovery", None, None, Analysis(intent="callback_request"), {}, flow)
    assert (d.phase, d.target_outcome) == ("closing", "callback_requested")
    d2 = decide_phase(
        "closing",
        None,
        d.target_outcome,
        Analysis(intent="share_contacts"),
        {"phone": "77012345678"},
        flow,
    )
    assert d2.outcome == "callback_requested"


def test_a_question_is_answered_while_a_request_waits(flow) -> None:  # type: ignore[no-untyped-def]
    d = decide_phase("discovery", None, None, Analysis(intent="invoice_request"), {}, flow)
    assert (d.phase, d.target_outcome) == ("closing", "payment_ready")
    # The model keeps proposing closing; the question is answered all the same.
    question = Analysis(intent="feature_question", next_phase="closing")
    d2 = decide_phase("closing", None, d.target_outcome, question, {}, flow)
    assert (d2.phase, d2.outcome, d2.target_outcome) == ("presentation", None, "payment_ready")
    d3 = decide_phase("presentation", None, d2.target_outcome, question, {}, flow)
    assert (d3.phase, d3.target_outcome) == ("presentation", "payment_ready")


def test_a_new_request_replaces_the_pending_one(flow) -> None:  # type: ignore[no-untyped-def]
    d = decide_phase("closing", None, "trial_requested", Analysis(intent="demo_request"), {}, flow)
    assert d.target_outcome == "video_call_scheduled"


def test_a_reached_request_stays_while_questions_are_answered(flow) -> None:  # type: ignore[no-untyped-def]
    question = Analysis(intent="price_question", next_phase="payment_ready")
    d = decide_phase("payment_ready", "payment_ready", None, question, FULL, flow)
    assert (d.phase, d.outcome) == ("presentation", "payment_ready")

"""The recorded-dialogue harness of tests.support.dialogues: the YAML format, the step
checker and its diff-like report, stale-recording detection on replay, the
recording proxy, `salesbot dialogues record` against the Ollama stub acting as a
live Ollama (a recorded file must replay green), and the pytest collector of
tests/dialogues run on a scratch directory."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api import cli
from tests.support import ROOT, TESTS
from tests.support.dialogues import (
    CASSETTE_SUFFIX,
    Dialogue,
    DialogueFormatError,
    Observation,
    RecordingProxy,
    ReplayResult,
    StepAssert,
    check_step,
    load_dialogue,
    parse_offset,
    replay,
)
from tests.support.dialogues.format import DEFAULT_START, STEP_PACE_MS
from tests.support.ollama_stub import OllamaStub
from tests.support.replies import analysis

Replayer = Callable[[Path], ReplayResult]
HANDOFF_TEXT = "Передаю ваш вопрос менеджеру — он свяжется с вами в ближайшее время."


@pytest.fixture(autouse=True)
def kb_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The record command honours KB_CACHE_DIR; keep the repo's .cache out of tests.
    cache = tmp_path / "kb-cache"
    monkeypatch.setenv("KB_CACHE_DIR", str(cache))
    return cache


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def replay_stub() -> Iterator[OllamaStub]:
    # One server for the module's replays: stopping one waits half a second.
    with OllamaStub() as stub:
        yield stub


@pytest.fixture
def run_replay(replay_stub: OllamaStub, kb_cache: Path) -> Replayer:
    def run(path: Path) -> ReplayResult:
        replay_stub.queue.clear()
        replay_stub.errors.clear()
        return asyncio.run(replay(load_dialogue(path), replay_stub, kb_cache_dir=kb_cache))

    return run


# --- the format ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [("0s", 0), ("90s", 90_000), ("15m", 900_000), ("2h", 7_200_000), ("3d", 259_200_000)],
)
def test_time_offsets(text: str, ms: int) -> None:
    assert parse_offset(text) == ms


def test_combined_and_invalid_offsets() -> None:
    assert parse_offset("1d 2h") == 86_400_000 + 7_200_000
    assert parse_offset("250ms") == 250
    for bad in ("", "3 days", "soon", "2h later"):
        with pytest.raises(ValueError, match="invalid time offset"):
            parse_offset(bad)


def test_timestamps_follow_offsets_and_a_chat_pace() -> None:
    dialogue = Dialogue.model_validate(
        {
            "test_case": "t",
            "steps": [
                {"user": "a"},
                {"user": "b"},
                {"user": "c", "at": "3d"},
                {"user": "d"},
            ],
        }
    )
    start = int(DEFAULT_START.timestamp() * 1000)
    assert dialogue.timestamps() == [
        start,
        start + STEP_PACE_MS,
        start + 3 * 86_400_000,
        start + 3 * 86_400_000 + STEP_PACE_MS,
    ]
    assert dialogue.customer_id() == "dlg_t"


def test_offsets_must_not_go_back_in_time() -> None:
    with pytest.raises(ValueError, match="earlier than a previous step"):
        Dialogue.model_validate(
            {"test_case": "t", "steps": [{"user": "a", "at": "2h"}, {"user": "b", "at": "1h"}]}
        )


@pytest.mark.parametrize(
    ("assertion", "message"),
    [
        ({"intnet": "greeting"}, "assert.intnet: Extra inputs are not permitted"),
        ({"intent": "hello"}, "assert.intent: Input should be 'greeting'"),
        ({"phase": "closed"}, "assert.phase: Input should be 'discovery'"),
        ({"outcome": "paid"}, "assert.outcome: Input should be 'payment_ready'"),
        ({"guard_violations": ["price"]}, "unknown guard violation price"),
        ({"profile": {"town": "Алматы"}}, "unknown profile field town"),
        ({"answer_matches": "(unclosed"}, "invalid regular expression"),
    ],
)
def test_a_typo_in_a_dialogue_is_an_error_naming_the_key(
    tmp_path: Path, assertion: dict[str, Any], message: str
) -> None:
    path = write(
        tmp_path / "d.yaml",
        {
            "test_case": "t",
            "steps": [{"user": "Привет, нужна касса", "replies": [], "assert": assertion}],
        },
    )
    with pytest.raises(DialogueFormatError) as caught:
        load_dialogue(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_single_strings_count_as_lists_and_empty_steps_are_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.yaml",
        {
            "test_case": "t",
            "steps": [
                {"user": "a", "replies": [], "assert": {"answer_contains": "5 000 ₸"}},
                {"user": "b", "replies": []},
            ],
        },
    )
    loaded = load_dialogue(path)
    assert loaded.dialogue.steps[0].expect.answer_contains == ["5 000 ₸"]
    assert loaded.format_problems() == ["steps.2: no assertions (every step must assert something)"]


def test_a_cassette_whose_line_changed_marks_only_that_step_stale(tmp_path: Path) -> None:
    write(
        tmp_path / f"d{CASSETTE_SUFFIX}",
        {
            "test_case": "t",
            "steps": [
                {
                    "user": "Привет, нужна касса",
                    "replies": [{"intent": "greeting"}, "Здравствуйте!"],
                },
                {"user": "Сколько стоит?", "replies": ["x"]},
            ],
        },
    )
    path = write(
        tmp_path / "d.yaml",
        {
            "test_case": "t",
            "cassette": f"d{CASSETTE_SUFFIX}",
            "steps": [
                {"user": "Привет, нужна касса", "assert": {"intent": "greeting"}},
                {"user": "Сколько стоит Lite?", "assert": {"intent": "price_question"}},
                {"user": "А Pro?", "assert": {"intent": "price_question"}},
            ],
        },
    )
    loaded = load_dialogue(path)
    assert loaded.replies[0] == [{"intent": "greeting"}, "Здравствуйте!"]
    assert loaded.replies[1] is None and "has changed" in loaded.stale[1]
    assert loaded.replies[2] is None and "no replies" in loaded.stale[2]


def test_inline_replies_beside_a_cassette_are_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.yaml",
        {
            "test_case": "t",
            "cassette": "d.cassette.yaml",
            "steps": [{"user": "a", "replies": ["x"], "assert": {"intent": "greeting"}}],
        },
    )
    with pytest.raises(DialogueFormatError, match="inline replies"):
        load_dialogue(path)


# --- the checker -------------------------------------------------------------------------


def observed(**changes: Any) -> Observation:
    base = Observation(
        status=200,
        answer="Тариф Lite — 150\u00a0000 ₸ в год. Сколько у вас точек?",
        meta={
            "intent": "price_question",
            "phase": "qualification",
            "outcome": None,
            "handoff": False,
            "kb_used": True,
            "turn": 2,
        },
        profile={"city": "Алматы", "phone": "77012345678", "pains": []},
        kb_topics=["pricing_tariff_lite", "pricing_tariffs_overview"],
        guard_violations=["too_many_questions", "unknown_price"],
        llm_calls=3,
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_a_step_that_holds_has_no_mismatches() -> None:
    expect = StepAssert.model_validate(
        {
            "intent": "price_question",
            "phase": "qualification",
            "outcome": None,
            "handoff": False,
            "kb_used": True,
            "turn": 2,
            "llm_calls": 3,
            "returning": False,
            "profile": {"city": "Алматы"},
            "profile_set": ["phone"],
            "profile_not_set": ["iin", "pains"],
            "kb_topics": ["pricing_tariff_lite"],
            "kb_topics_not": ["pricing_installment"],
            "answer_contains": ["150 000 ₸", "тариф lite"],
            "answer_not_contains": ["5 000 ₸"],
            "answer_matches": r"\d+ точ|точек\?$",
            "guard_violations": ["unknown_price", "too_many_questions"],
        }
    )
    assert check_step(expect, observed()) == []


def test_only_written_keys_are_checked_and_null_is_an_assertion() -> None:
    assert check_step(StepAssert.model_validate({"intent": "price_question"}), observed()) == []
    [mismatch] = check_step(
        StepAssert.model_validate({"outcome": None}),
        observed(meta={**observed().meta, "outcome": "payment_ready"}),
    )
    assert (mismatch.assertion, mismatch.expected, mismatch.actual) == (
        "outcome",
        None,
        "payment_ready",
    )


@pytest.mark.parametrize(
    ("assertion", "name", "expected", "actual"),
    [
        ({"phase": "closing"}, "phase", "closing", "qualification"),
        ({"profile": {"city": "Астана"}}, "profile", {"city": "Астана"}, {"city": "Алматы"}),
        ({"profile_set": ["iin", "city"]}, "profile_set", ["iin"], "not set"),
        ({"profile_not_set": ["phone"]}, "profile_not_set", ["phone"], {"phone": "77012345678"}),
        (
            {"kb_topics": ["pricing_installment"]},
            "kb_topics",
            ["pricing_installment"],
            ["pricing_tariff_lite", "pricing_tariffs_overview"],
        ),
        ({"answer_contains": ["рассрочк"]}, "answer_contains", ["рассрочк"], "not in the answer"),
        (
            {"answer_not_contains": ["150 000"]},
            "answer_not_contains",
            ["150 000"],
            "present in the answer",
        ),
        (
            {"guard_violations": ["unknown_price"]},
            "guard_violations",
            ["unknown_price"],
            ["too_many_questions", "unknown_price"],
        ),
        ({"guard_violations": []}, "guard_violations", [], ["too_many_questions", "unknown_price"]),
        ({"llm_calls": 2}, "llm_calls", 2, 3),
    ],
)
def test_each_broken_assertion_names_expected_and_actual(
    assertion: dict[str, Any], name: str, expected: Any, actual: Any
) -> None:
    [mismatch] = check_step(StepAssert.model_validate(assertion), observed())
    assert (mismatch.assertion, mismatch.expected, mismatch.actual) == (name, expected, actual)


def test_an_http_error_fails_the_step_whatever_it_asserts() -> None:
    [mismatch] = check_step(
        StepAssert.model_validate({"answer_not_contains": ["₸"]}),
        Observation(status=503, error='{"error": "x"}'),
    )
    assert mismatch.assertion == "status" and "503" in mismatch.actual


# --- replaying -------------------------------------------------------------------------


def two_step_dialogue(tmp_path: Path, second_replies: list[Any], **second: Any) -> Path:
    return write(
        tmp_path / "prices.yaml",
        {
            "test_case": "prices",
            "steps": [
                {
                    "user": "Здравствуйте, нужна касса",
                    "replies": [json.loads(analysis("greeting")), "Здравствуйте! Чем занимаетесь?"],
                    "assert": {"intent": "greeting", "guard_violations": []},
                },
                {
                    "user": "Сколько стоит Lite?",
                    "replies": second_replies,
                    "assert": second or {"intent": "price_question"},
                },
            ],
        },
    )


PRICE_ANALYSIS = json.loads(
    analysis("price_question", search_query="цена тарифа Lite", next_phase="qualification")
)


def test_a_good_recording_replays_green(tmp_path: Path, run_replay: Replayer) -> None:
    path = two_step_dialogue(
        tmp_path,
        [PRICE_ANALYSIS, "Тариф Lite — 150 000 ₸ в год."],
        intent="price_question",
        kb_topics=["pricing_tariff_lite"],
        guard_violations=[],
    )
    result = run_replay(path)
    assert result.passed, result.report()
    assert [o.meta["turn"] for o in result.observations] == [1, 2]


def test_a_broken_assertion_reads_like_a_diff(tmp_path: Path, run_replay: Replayer) -> None:
    path = two_step_dialogue(
        tmp_path,
        [PRICE_ANALYSIS, "Тариф Lite — 150 000 ₸ в год."],
        phase="closing",
        answer_contains=["рассрочк"],
    )
    result = run_replay(path)
    assert not result.passed and not result.stale
    report = result.report()
    assert "prices.yaml (prices)" in report
    assert "step 2 of 2" in report
    assert "customer: «Сколько стоит Lite?»" in report
    assert "answer:   «Тариф Lite — 150 000 ₸ в год.»" in report
    assert (
        "assertion failed: phase\n  - expected: «closing»\n  + actual:   «qualification»" in report
    )
    assert 'assertion failed: answer_contains\n  - expected: ["рассрочк"]' in report


def test_a_reply_the_code_no_longer_asks_for_is_stale(tmp_path: Path, run_replay: Replayer) -> None:
    path = two_step_dialogue(
        tmp_path, [PRICE_ANALYSIS, "Тариф Lite — 150 000 ₸ в год.", "Лишний ответ."]
    )
    result = run_replay(path)
    assert result.stale
    report = result.report()
    assert "the recording is stale" in report
    assert "1 recorded reply is no longer asked for (the code made 2 of the 3" in report
    assert f"salesbot dialogues record {path} --ollama http://127.0.0.1:11434" in report


def test_a_call_without_a_recorded_reply_is_stale(tmp_path: Path, run_replay: Replayer) -> None:
    # The draft names an amount that is in no fact: the guard asks for a third call.
    path = two_step_dialogue(tmp_path, [PRICE_ANALYSIS, "Тариф Lite — 99 000 ₸ в год."])
    result = run_replay(path)
    assert result.stale
    report = result.report()
    assert "the code made more LLM calls than the 2 recorded" in report
    assert "HTTP 503" in report
    assert "salesbot dialogues record" in report


def test_calls_out_of_line_with_the_recording_are_stale(
    tmp_path: Path, run_replay: Replayer
) -> None:
    # The counts match, but the recorded analysis lands in the answer call: the
    # replay notices that a JSON object went to a plain-text call.
    path = two_step_dialogue(tmp_path, [PRICE_ANALYSIS, PRICE_ANALYSIS])
    result = run_replay(path)
    assert result.stale
    assert "recorded reply 2 is a JSON object, but call 2 asks for a plain-text answer" in (
        result.report()
    )


def test_fixtures_set_where_the_conversation_stands(tmp_path: Path, run_replay: Replayer) -> None:
    path = write(
        tmp_path / "f.yaml",
        {
            "test_case": "fixtures",
            "fixtures": {
                "phase": "closing",
                "turn": 4,
                "profile": {"business_type": "аптека", "city": "Алматы"},
            },
            "steps": [
                {
                    "user": "Айдар, 87011234567",
                    "replies": [
                        json.loads(analysis("share_contacts", next_phase="payment_ready")),
                        "Спасибо! Менеджер свяжется с вами для оформления.",
                    ],
                    "assert": {
                        "turn": 5,
                        "phase": "payment_ready",
                        "outcome": "payment_ready",
                        "profile": {"business_type": "аптека", "phone": "77011234567"},
                        "stored_profile": {"city": "Алматы", "outcome": "payment_ready"},
                    },
                }
            ],
        },
    )
    result = run_replay(path)
    assert result.passed, result.report()


# --- recording -------------------------------------------------------------------------


def live_ollama(request: dict[str, Any]) -> str:
    """A stand-in for a live model: replies depend on the prompt, like a model's do."""
    messages = request["messages"]
    last = messages[-1]["content"]
    if request.get("format"):
        text = last.rsplit(":\n", 1)[-1]
        if "стоит" in text:
            return json.dumps(
                {
                    "intent": "price_question",
                    "profile": {"business_type": "аптека"},
                    "search_query": "цена тарифа Lite",
                    "next_phase": "qualification",
                },
                ensure_ascii=False,
            )
        if "менеджер" in text:
            return json.dumps({"intent": "human_request"})
        return json.dumps({"intent": "greeting", "search_query": ""})
    if "Прошлый вариант ответа нарушил правила" in last:
        return "Тариф Lite — 150 000 ₸ в год."
    if "стоит" in last:
        # An invented price: the guard makes the service ask again.
        return "Тариф Lite — 99 000 ₸ в год."
    return "Здравствуйте! Подскажите, чем занимается ваш бизнес?"


@pytest.fixture
def live() -> Iterator[OllamaStub]:
    with OllamaStub(fallback=live_ollama) as server:
        yield server


def unrecorded(tmp_path: Path) -> Path:
    return write(
        tmp_path / "new.yaml",
        {
            "test_case": "new_dialogue",
            "description": "Written by a person: only the customer's lines.",
            "steps": [
                {"user": "Здравствуйте, нужна касса"},
                {"user": "У меня аптека, сколько стоит Lite?", "at": "2m"},
                {"user": "Позовите менеджера", "at": "2d"},
            ],
        },
    )


def test_record_stores_raw_replies_and_drafts_assertions(
    tmp_path: Path, live: OllamaStub, run_replay: Replayer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = unrecorded(tmp_path)
    code = cli.main(["dialogues", "record", str(path), "--ollama", live.url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "recorded 3 steps (6 LLM replies" in out
    assert "draft assertions for steps [1, 2, 3]" in out

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["draft"] is True
    assert data["recorded_with"]["model"] == "ministral-3:14b-instruct-2512-q8_0"
    assert data["description"] == "Written by a person: only the customer's lines."
    first, second, third = data["steps"]
    # Every call went through the proxy: the stub saw them all, in order.
    assert len(live.chat_requests()) == 6
    assert first["replies"] == [
        {"intent": "greeting", "search_query": ""},
        "Здравствуйте! Подскажите, чем занимается ваш бизнес?",
    ]
    assert second["at"] == "2m"
    assert second["replies"][1:] == [
        "Тариф Lite — 99 000 ₸ в год.",
        "Тариф Lite — 150 000 ₸ в год.",
    ]
    assert second["assert"]["intent"] == "price_question"
    assert second["assert"]["profile"] == {"business_type": "аптека"}
    assert second["assert"]["guard_violations"] == ["unknown_price"]
    assert second["assert"]["answer"] == "Тариф Lite — 150 000 ₸ в год."
    assert "pricing_tariff_lite" in second["assert"]["kb_topics"]
    assert third["replies"] == [{"intent": "human_request"}]
    assert third["assert"]["handoff"] is True
    assert third["assert"]["returning"] is True
    assert third["assert"]["answer"] == HANDOFF_TEXT

    # The recorded file replays green offline, draft assertions included.
    result = run_replay(path)
    assert result.passed, result.report()


def test_record_into_a_cassette(
    tmp_path: Path, live: OllamaStub, run_replay: Replayer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = unrecorded(tmp_path)
    assert cli.main(["dialogues", "record", str(path), "--ollama", live.url, "--cassette"]) == 0
    cassette = tmp_path / f"new{CASSETTE_SUFFIX}"
    assert f"wrote {cassette}" in capsys.readouterr().out
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["cassette"] == cassette.name
    assert all("replies" not in step for step in data["steps"])
    tape = yaml.safe_load(cassette.read_text(encoding="utf-8"))
    assert [step["user"] for step in tape["steps"]] == [s["user"] for s in data["steps"]]
    assert sum(len(step["replies"]) for step in tape["steps"]) == 6
    result = run_replay(path)
    assert result.passed, result.report()


def test_rerecording_keeps_reviewed_assertions_and_reports_what_broke(
    tmp_path: Path, live: OllamaStub, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "reviewed.yaml",
        {
            "test_case": "reviewed",
            "steps": [
                {"user": "Здравствуйте, нужна касса", "assert": {"intent": "greeting"}},
                {"user": "Сколько стоит Lite?", "assert": {"guard_violations": []}},
            ],
        },
    )
    code = cli.main(["dialogues", "record", str(path), "--ollama", live.url])
    out = capsys.readouterr().out
    assert code == 1
    assert "step 2: the new recording breaks reviewed assertions" in out
    assert 'guard_violations: expected [], got ["unknown_price"]' in out
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert "draft" not in data
    assert [step["assert"] for step in data["steps"]] == [
        {"intent": "greeting"},
        {"guard_violations": []},
    ]
    assert len(data["steps"][1]["replies"]) == 3


def test_record_without_ollama_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = unrecorded(tmp_path)
    before = path.read_text(encoding="utf-8")
    with OllamaStub() as stopped:
        url = stopped.url
    code = cli.main(["dialogues", "record", str(path), "--ollama", url])
    assert code == 1
    assert "recording failed, nothing written: step 1" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == before


def test_the_proxy_passes_the_stream_through_and_keeps_the_reply() -> None:
    reply = "Тариф Lite — 150 000 ₸ в год, обучение при запуске включено."
    with OllamaStub([reply], chunk_chars=7) as upstream, RecordingProxy(upstream.url) as proxy:
        tags = httpx.get(f"{proxy.url}/api/tags").json()
        assert tags["models"][0]["name"] == "ministral-3:14b-instruct-2512-q8_0"
        body = {
            "model": "ministral-3:14b-instruct-2512-q8_0",
            "messages": [{"role": "user", "content": "Сколько стоит Lite?"}],
            "stream": True,
        }
        response = httpx.post(f"{proxy.url}/api/chat", json=body)
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) > 2 and lines[-1]["done"] is True
    assert "".join(line["message"]["content"] for line in lines) == reply
    assert [(call.structured, call.content) for call in proxy.calls] == [(False, reply)]
    assert upstream.chat_requests()[0]["messages"] == body["messages"]


# --- the pytest collector --------------------------------------------------------------


def test_the_collector_reports_passes_diffs_known_failures_and_broken_files(
    tmp_path: Path,
) -> None:
    """tests/dialogues/conftest.py, run by pytest on a scratch copy of the suite."""
    suite = tmp_path / "dialogues"
    suite.mkdir()
    for name in ("conftest.py", "__init__.py"):
        shutil.copy(TESTS / "dialogues" / name, suite / name)
    greeting = [json.loads(analysis("greeting")), "Здравствуйте! Чем занимаетесь?"]
    write(
        suite / "good.yaml",
        {
            "test_case": "good",
            "steps": [
                {
                    "user": "Привет, нужна касса",
                    "replies": greeting,
                    "assert": {"intent": "greeting"},
                }
            ],
        },
    )
    write(
        suite / "bad.yaml",
        {
            "test_case": "bad",
            "steps": [
                {"user": "Привет, нужна касса", "replies": greeting, "assert": {"phase": "closing"}}
            ],
        },
    )
    write(
        suite / "broken.yaml", {"test_case": "broken", "steps": [{"user": "Привет, нужна касса"}]}
    )
    write(
        suite / "drafted.yaml",
        {
            "test_case": "drafted",
            "draft": True,
            "steps": [
                {
                    "user": "Привет, нужна касса",
                    "replies": greeting,
                    "assert": {"intent": "greeting"},
                }
            ],
        },
    )
    (suite / "known_failures").mkdir()
    write(
        suite / "known_failures" / "defect.yaml",
        {
            "test_case": "defect",
            "reason": "the bot cannot do this yet",
            "steps": [
                {"user": "Привет, нужна касса", "replies": greeting, "assert": {"handoff": True}}
            ],
        },
    )
    write(
        suite / "known_failures" / "stale.yaml",
        {
            "test_case": "stale_defect",
            "reason": "documented long ago",
            "steps": [
                {
                    "user": "Привет, нужна касса",
                    "replies": greeting[:1],
                    "assert": {"handoff": True},
                }
            ],
        },
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(suite),
            "-rxXfE",
            "-p",
            "no:cacheprovider",
            "--continue-on-collection-errors",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = run.stdout
    assert run.returncode == 1, out
    assert "2 failed, 2 passed, 1 xfailed, 1 warning, 1 error" in out
    assert "drafted.yaml: draft assertions from `salesbot dialogues record` are not reviewed" in out
    assert "XFAIL dialogues/known_failures/defect.yaml::defect - the bot cannot do this yet" in out
    assert "FAILED dialogues/known_failures/stale.yaml::stale_defect" in out
    assert "the recording is stale" in out
    assert "FAILED dialogues/bad.yaml::bad" in out
    assert "assertion failed: phase\n  - expected: «closing»\n  + actual:   «discovery»" in out
    assert "ERROR dialogues/broken.yaml" in out
    assert "steps.1: no assertions" in out

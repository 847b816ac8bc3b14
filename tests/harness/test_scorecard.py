"""The live-model scorecard (`salesbot dialogues score`, `score-diff`) against the
Ollama stub acting as a live model: only the customer lines are played, both
reports are written, their totals are the sums of their turns, tokens and
timings come from the replies' metadata, the guard's findings before and after
repair are reported, an unreachable URL or a missing model is one line and exit
2, Ctrl-C writes what was played, and the operator's files are left alone."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api import cli
from core.settings import load_settings
from rules.guards import Guard, GuardInput
from rules.prompts import RETRY_BLOCK
from tests.support import ROOT
from tests.support.dialogues import RecordingProxy
from tests.support.dialogues.scoring.diff import render_diff
from tests.support.dialogues.scoring.guard_log import GuardLog
from tests.support.dialogues.scoring.markdown import escape
from tests.support.dialogues.scoring.model import (
    CallScore,
    DialogueScore,
    ScoreRun,
    TurnScore,
    percentile,
    totals,
)
from tests.support.dialogues.scoring.preflight import PreflightError, check_ollama
from tests.support.dialogues.usage import CallUsage
from tests.support.ollama_stub import DEFAULT_MODEL, NoScriptedReply, OllamaStub, demo_reply
from tests.support.ollama_stub.protocol import estimate_tokens

RECORDED = "ЗАПИСАННЫЙ ОТВЕТ"
"""What the files' recorded replies say: it must never reach a played turn."""
RETRY = RETRY_BLOCK.split("{")[0]
LITE = "Здравствуйте, у меня аптека в Алматы. Сколько стоит тариф Lite?"
STANDARD = "А тариф Standard сколько стоит в год?"
KITS = "Добрый день, какие есть комплекты оборудования для кассы?"
BAD = {
    LITE: "Тариф Lite стоит 99 000 ₸ в год.",  # fixed by the regeneration
    STANDARD: "Тариф Standard стоит 77 000 ₸ в год.",  # bad in both drafts
}
SPEED = 50.0
DELAY_S = 0.05


def model_reply(request: dict[str, Any]) -> str:
    """A stand-in for a live model: valid analyses; answers from the prompt's facts,
    except an invented price for LITE (first draft) and STANDARD (every draft)."""
    if request.get("format"):
        return demo_reply(request)
    messages = request["messages"]
    customer = [m["content"] for m in messages if m["role"] == "user"][-1]
    retrying = RETRY in messages[-1]["content"]
    bad = BAD.get(customer)
    if bad and (not retrying or customer == STANDARD):
        return bad
    return demo_reply(request)


def write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def dialogue(path: Path, test_case: str, lines: list[str]) -> Path:
    """A recorded dialogue whose recorded replies are all RECORDED."""
    steps = [
        {
            "user": line,
            "replies": [{"intent": "greeting"}, f"{RECORDED} {n}"],
            "assert": {"answer_contains": RECORDED},
        }
        for n, line in enumerate(lines, 1)
    ]
    return write(path, {"test_case": test_case, "steps": steps})


@pytest.fixture
def dialogues(tmp_path: Path) -> Path:
    folder = tmp_path / "dialogues"
    dialogue(folder / "a_prices.yaml", "prices", [LITE, STANDARD])
    dialogue(folder / "b_kits.yaml", "kits", [KITS])
    write(folder / f"b_kits{'.cassette.yaml'}", {"test_case": "kits", "steps": []})
    return folder


@pytest.fixture
def live() -> Iterator[OllamaStub]:
    with OllamaStub(fallback=model_reply, delay_s=DELAY_S, tokens_per_s=SPEED) as server:
        yield server


def score(*args: str) -> int:
    return cli.main(["dialogues", "score", *args])


def read_reports(out: Path) -> tuple[dict[str, Any], str]:
    data = json.loads((out / "score.json").read_text(encoding="utf-8"))
    return data, (out / "score.md").read_text(encoding="utf-8")


Reports = tuple[dict[str, Any], str, str]


@pytest.fixture
def played(
    tmp_path: Path, dialogues: Path, live: OllamaStub, capsys: pytest.CaptureFixture[str]
) -> Reports:
    """The reports of a run of `dialogues` against `live`, and its stderr."""
    out = tmp_path / "out"
    assert score("--ollama", live.url, "--dialogues", str(dialogues), "--out", str(out)) == 0
    return (*read_reports(out), capsys.readouterr().err)


# --- a run ---------------------------------------------------------------------------


def test_a_run_plays_only_the_customer_lines_and_writes_both_reports(
    played: Reports, live: OllamaStub
) -> None:
    data, md, err = played
    assert "scoring 2 dialogues (3 customer lines)" in err
    assert "[1/2 prices] turn 1/2:" in err and "[2/2 kits] done: 1 turns" in err

    assert data["format"] == "salesbot-score/1"
    assert data["model"] == DEFAULT_MODEL and data["ollama"] == live.url
    assert (data["dialogues_planned"], data["dialogues_played"], data["dialogues_complete"]) == (
        2,
        2,
        2,
    )
    assert data["interrupted"] is False and data["finished_at"]
    prices, kits = data["dialogues"]
    assert [t["customer"] for t in prices["turns"]] == [LITE, STANDARD]
    assert [t["customer"] for t in kits["turns"]] == [KITS]
    turns = prices["turns"] + kits["turns"]
    # The recorded replies were never served: every reply came from the live model.
    assert all(RECORDED not in t["answer"] for t in turns)
    assert all(RECORDED not in r["_reply"] for r in live.chat_requests())
    assert all(t["status"] == 200 and t["answer"] for t in turns)

    lite, standard = prices["turns"]
    # An invented price fixed by the regeneration.
    assert lite["drafts"] == [["unknown_price"], []]
    assert lite["violations_before"] == ["unknown_price"]
    assert lite["violations_after"] == []
    assert (lite["regenerations"], lite["fallback"]) == (1, False)
    assert "99 000" not in lite["answer"]
    # Invented again after the regeneration: repaired, the price cut out.
    assert standard["drafts"] == [["unknown_price"], ["unknown_price"]]
    assert (standard["regenerations"], standard["fallback"]) == (1, True)
    assert standard["violations_after"] == []
    assert "77 000" not in standard["answer"]
    assert kits["turns"][0]["violations_before"] == []

    assert "# Dialogue scorecard: " + escape(DEFAULT_MODEL) in md
    assert md.index("## Summary") < md.index("### Guard violations by kind")
    assert md.index("### Guard violations by kind") < md.index("## Dialogues")
    assert "| `unknown_price` | 2 (66.7) | 0 (0.0) |" in md
    assert "| turns played (failed) | 3 (0) |" in md
    for turn in turns:
        assert f"Customer:** {escape(turn['customer'])}" in md
        assert f"> {escape(turn['answer'])}" in md
    assert md.count("⚠ guard: unknown\\_price") == 2
    assert "⚠ fallback (repaired)" in md


def test_totals_are_the_sums_of_the_turns(played: Reports) -> None:
    data, _, _ = played
    every = [t for d in data["dialogues"] for t in d["turns"]]
    for scope, turns in [(data["totals"], every)] + [
        (d["totals"], d["turns"]) for d in data["dialogues"]
    ]:
        assert scope["turns"] == len(turns)
        for key in ("llm_calls", "prompt_tokens", "completion_tokens", "regenerations"):
            assert scope[key] == sum(t[key] for t in turns), key
        for key, flag in (("fallbacks", "fallback"), ("edits", "edited")):
            assert scope[key] == sum(t[flag] for t in turns), key
        assert scope["fixed_answers"] == sum(t["fixed_answer"] for t in turns)
        assert scope["llm_calls_per_turn"] == pytest.approx(
            scope["llm_calls"] / len(turns), abs=1e-3
        )
        assert scope["llm_s"] == pytest.approx(sum(t["llm_s"] for t in turns), abs=1e-3)
        latencies = [t["latency_s"] for t in turns]
        assert scope["latency_s"]["p50"] == pytest.approx(percentile(latencies, 0.5), abs=1e-4)
        assert scope["latency_s"]["p95"] == pytest.approx(percentile(latencies, 0.95), abs=1e-4)
        for when in ("before", "after"):
            counted = Counter(c for t in turns for c in t[f"violations_{when}"])
            assert scope[f"violations_{when}"] == dict(counted)
            assert scope[f"turns_flagged_{when}"] == sum(
                bool(t[f"violations_{when}"]) for t in turns
            )
            for code, count in counted.items():
                rate = scope[f"violations_{when}_per_100_turns"][code]
                assert rate == pytest.approx(count * 100 / len(turns), abs=0.01)


def test_tokens_and_timings_come_from_the_replies_metadata(
    played: Reports, live: OllamaStub
) -> None:
    data, _, _ = played
    requests = live.chat_requests()
    calls = [c for d in data["dialogues"] for t in d["turns"] for c in t["calls"]]
    assert len(calls) == len(requests)
    for call, request in zip(calls, requests, strict=True):
        prompt = "".join(m["content"] for m in request["messages"])
        assert call["kind"] == ("analysis" if request.get("format") else "answer")
        assert call["prompt_tokens"] == estimate_tokens(prompt)
        assert call["completion_tokens"] == estimate_tokens(request["_reply"])
        # The stub reports eval_duration at SPEED tokens/s and its delay in total_duration.
        assert call["eval_s"] == pytest.approx(call["completion_tokens"] / SPEED, abs=1e-6)
        assert call["total_s"] == pytest.approx(call["eval_s"] + DELAY_S, abs=1e-6)
        assert call["wall_s"] >= DELAY_S
    assert data["totals"]["tokens_per_s"] == pytest.approx(SPEED, abs=0.01)
    for d in data["dialogues"]:
        for turn in d["turns"]:
            assert turn["tokens_per_s"] == pytest.approx(SPEED, abs=0.01)
            assert turn["latency_s"] >= DELAY_S * turn["llm_calls"]


def test_the_checked_in_dialogues_play_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = ROOT / "tests" / "dialogues" / "pricing"
    out = tmp_path / "out"
    with OllamaStub(fallback=demo_reply) as stub:
        assert score("--ollama", stub.url, "--dialogues", str(folder), "--out", str(out)) == 0
    data, _ = read_reports(out)
    files = sorted(p for p in folder.glob("*.yaml") if not p.name.endswith(".cassette.yaml"))
    assert data["dialogues_complete"] == len(files) > 0
    steps = sum(len(yaml.safe_load(p.read_text(encoding="utf-8"))["steps"]) for p in files)
    assert data["totals"]["turns"] == steps


# --- an operator's mistakes and interruptions ---------------------------------------


def test_an_unreachable_url_is_one_line_and_exit_2(
    tmp_path: Path, dialogues: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with OllamaStub() as stopped:
        url = stopped.url
    out = tmp_path / "out"
    assert score("--ollama", url, "--dialogues", str(dialogues), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"salesbot dialogues score: cannot reach Ollama at {url} (ConnectError")
    assert not out.exists()


def test_a_missing_model_is_one_line_and_exit_2(
    tmp_path: Path, dialogues: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with OllamaStub(models=["qwen3:8b"]) as stub:
        code = score("--ollama", stub.url, "--dialogues", str(dialogues), "--out", str(tmp_path))
        assert stub.chat_requests() == []
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"model '{DEFAULT_MODEL}' is not on" in err and "(it has: qwen3:8b)" in err
    assert f"ollama pull {DEFAULT_MODEL}" in err


def test_preflight_accepts_a_model_listed_as_latest_and_rejects_what_is_not_ollama() -> None:
    with OllamaStub(models=["qwen3:latest"]) as stub:
        check_ollama(stub.url, "qwen3")
        with pytest.raises(PreflightError, match="answered HTTP 404 to GET /api/tags"):
            check_ollama(stub.url + "/nothing", "qwen3")
    with pytest.raises(PreflightError, match="not an http"):
        check_ollama("gpu:11434", "qwen3")


def test_ctrl_c_lets_the_turn_finish_and_writes_what_was_played(
    tmp_path: Path, dialogues: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served = 0

    def interrupt_on_the_fifth_call(request: dict[str, Any]) -> str:
        # The operator presses Ctrl-C while the fifth call is with the model (turn 2's
        # answer: turn 1 took three calls): SIGINT reaches the main thread, as from a
        # terminal.
        nonlocal served
        served += 1
        if served == 5:
            signal.raise_signal(signal.SIGINT)
        return model_reply(request)

    out = tmp_path / "out"
    with OllamaStub(fallback=interrupt_on_the_fifth_call) as stub:
        code = score("--ollama", stub.url, "--dialogues", str(dialogues), "--out", str(out))
    assert code == 130
    err = capsys.readouterr().err
    assert "stopping after this turn" in err
    assert "interrupted: 1/2 dialogues" in err
    data, md = read_reports(out)
    assert data["interrupted"] is True
    # The turn in progress was finished and kept; the next dialogue never started.
    (prices,) = data["dialogues"]
    assert [t["customer"] for t in prices["turns"]] == [LITE, STANDARD]
    assert all(t["answer"] for t in prices["turns"])
    assert data["totals"]["turns"] == 2
    assert "✗ interrupted" in md


def test_a_second_ctrl_c_stops_at_once(
    tmp_path: Path, dialogues: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served = 0

    def interrupt_twice(request: dict[str, Any]) -> str:
        nonlocal served
        served += 1
        if served in (5, 6):  # twice within turn 2
            signal.raise_signal(signal.SIGINT)
            time.sleep(0.3)
        return model_reply(request)

    out = tmp_path / "out"
    with OllamaStub(fallback=interrupt_twice) as stub:
        code = score("--ollama", stub.url, "--dialogues", str(dialogues), "--out", str(out))
    assert code == 130
    data, _ = read_reports(out)
    assert data["interrupted"] is True
    (prices,) = data["dialogues"]
    assert [t["customer"] for t in prices["turns"]] == [LITE]


def test_a_turn_the_service_cannot_answer_stops_its_dialogue_only(
    tmp_path: Path, dialogues: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def model_without_standard(request: dict[str, Any]) -> str:
        if request["messages"][-1]["content"] == STANDARD:
            raise NoScriptedReply("the model runner died")
        return model_reply(request)

    out = tmp_path / "out"
    with OllamaStub(fallback=model_without_standard) as stub:
        code = score("--ollama", stub.url, "--dialogues", str(dialogues), "--out", str(out))
    assert code == 1
    data, md = read_reports(out)
    prices, kits = data["dialogues"]
    assert prices["complete"] is False and prices["error"].startswith("turn 2: HTTP 503")
    assert [t["status"] for t in prices["turns"]] == [200, 503]
    assert kits["complete"] is True
    assert data["totals"]["failed_turns"] == 1
    assert "✗ failed: HTTP 503" in md


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_operators_database_settings_and_caches_are_untouched(
    tmp_path: Path, dialogues: Path, live: OllamaStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "operator" / "conversations.db"
    database.parent.mkdir()
    database.write_bytes(b"the operator's conversations")
    cache = tmp_path / "operator" / "kb-cache"
    cache.mkdir()
    monkeypatch.setenv("DB_PATH", str(database))
    monkeypatch.setenv("KB_CACHE_DIR", str(cache))
    settings = ROOT / "settings.yaml"
    before = (_digest(database), _digest(settings), database.stat().st_mtime_ns)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)

    assert score("--ollama", live.url, "--dialogues", str(dialogues)) == 0

    assert (_digest(database), _digest(settings), database.stat().st_mtime_ns) == before
    assert sorted(database.parent.iterdir()) == sorted([database, cache])
    assert list(cache.iterdir()) == []
    # The default report directory: build/score/<model>-<time> under the working directory.
    (run,) = (work / "build" / "score").iterdir()
    safe_model = re.sub(r"[^A-Za-z0-9_.-]+", "_", DEFAULT_MODEL)
    assert re.fullmatch(re.escape(safe_model) + r"-\d{8}-\d{6}", run.name)
    assert sorted(p.name for p in run.iterdir()) == ["score.json", "score.md"]


# --- comparing two runs ---------------------------------------------------------------


def _run(model: str, answers: list[tuple[list[list[str]], list[str], float]]) -> dict[str, Any]:
    scored = ScoreRun(
        model=model, ollama="http://gpu:11434", started_at="2026-02-02T10:00:00", planned=1
    )
    d = DialogueScore(index=0, path="x.yaml", test_case="prices", steps=len(answers), complete=True)
    for n, (drafts, after, latency) in enumerate(answers, 1):
        call = CallScore("answer", 1000, 50, 1.0, 1.0, 1.0)
        d.turns.append(
            TurnScore(
                n,
                "вопрос",
                "ответ",
                200,
                latency,
                calls=[call],
                drafts=drafts,
                violations_after=after,
            )
        )
    scored.dialogues.append(d)
    return scored.as_json()


def test_score_diff_prints_two_runs_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _run("model-a", [([["unknown_price"], ["unknown_price"]], ["unknown_price"], 2.0)])
    b = _run("model-b", [([[]], [], 1.0)])
    (tmp_path / "a.json").write_text(json.dumps(a), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(b), encoding="utf-8")
    assert (
        cli.main(["dialogues", "score-diff", str(tmp_path / "a.json"), str(tmp_path / "b.json")])
        == 0
    )
    out = capsys.readouterr().out
    assert out == render_diff(a, b)
    lines = out.splitlines()
    assert re.search(r"^model\s+model-a\s+model-b$", out, re.M)
    assert any(re.fullmatch(r"latency p50 \(s\)\s+2\.00\s+1\.00\s+-1\.00", line) for line in lines)
    assert any(re.fullmatch(r"regenerations\s+1\s+0\s+-1", line) for line in lines)
    assert any(
        re.fullmatch(r"\s+unknown_price\s+100\.0 → 100\.0\s+0\.0 → 0\.0", line) for line in lines
    )
    assert "  prices: flagged 1 → 0, still breaking 1 → 0" in lines


def test_score_diff_refuses_a_file_that_is_no_scorecard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.json"
    other.write_text("{}", encoding="utf-8")
    assert cli.main(["dialogues", "score-diff", str(other), str(other)]) == 2
    assert "not a scorecard" in capsys.readouterr().err


# --- the parts ------------------------------------------------------------------------


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([float(n) for n in range(1, 101)], 0.95) == pytest.approx(95.05)


def test_totals_of_no_turns_are_empty_not_an_error() -> None:
    empty = totals([])
    assert empty["turns"] == 0 and empty["llm_calls_per_turn"] is None
    assert empty["latency_s"] == {"p50": None, "p95": None, "mean": None, "max": None}


def test_call_usage_reads_ollamas_last_line() -> None:
    usage = CallUsage.of(
        {
            "prompt_eval_count": 1200,
            "eval_count": 80,
            "total_duration": 3_000_000_000,
            "eval_duration": 2_000_000_000,
        },
        wall_s=3.1,
    )
    assert usage == CallUsage(1200, 80, 3.0, 2.0, 3.1)
    assert CallUsage.of({}, wall_s=0.5) == CallUsage(0, 0, 0.0, 0.0, 0.5)


def test_the_proxy_keeps_each_calls_usage() -> None:
    with (
        OllamaStub(["Тариф Lite — 150 000 ₸ в год."], tokens_per_s=20.0) as upstream,
        RecordingProxy(upstream.url) as proxy,
    ):
        body = {
            "model": DEFAULT_MODEL,
            "messages": [{"role": "user", "content": "Сколько?"}],
            "stream": False,
        }
        httpx.post(f"{proxy.url}/api/chat", json=body)
    (call,) = proxy.calls
    assert call.usage is not None
    assert call.usage.prompt_tokens == estimate_tokens("Сколько?")
    assert call.usage.completion_tokens == estimate_tokens("Тариф Lite — 150 000 ₸ в год.")
    assert call.usage.eval_s == pytest.approx(call.usage.completion_tokens / 20.0)


def test_the_guard_log_delegates_and_checks_the_final_answer_with_the_same_data() -> None:
    guard = Guard(load_settings().guards)
    log = GuardLog(guard)
    turn = log.start_turn()
    data = GuardInput(
        answer="Тариф Lite стоит 99 000 ₸ в год.",
        turn=2,
        phase="presentation",
        profile={},
        kb_facts=["Тариф Lite — 150 000 ₸ в год."],
    )
    assert log.check(data) == guard.check(data) == ["unknown_price"]
    repaired = log.repair(data, ["unknown_price"])
    assert turn.repaired and not turn.edited
    assert [d.codes for d in turn.drafts] == [["unknown_price"]]
    assert log.check_final(turn, repaired) == []
    assert set(log.check_final(turn, "Здравствуйте! Lite стоит 99 000 ₸.")) == {
        "unknown_price",
        "greeting_repeated",
    }
    assert log.check_final(log.start_turn(), "что угодно") == []
    assert load_settings().guards.unknown_fact_answer in log.fixed_texts()

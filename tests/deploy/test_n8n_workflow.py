"""The n8n workflow of deploy/n8n, checked without n8n.

The JSON must keep the shape the integration team relies on: a POST webhook, the Redis
buffer, one HTTP Request node calling `$env.SALES_BOT_URL/api/v1/process` with the Header
Auth credential of the shipped template, a 180 s timeout, and every outcome wired either
to the part splitter or to the FALLBACK placeholder. The JavaScript of the Code nodes is
run with `node` (tests skip without it) on sample inputs: validation, merging into a
request the API's own schema accepts, the ok/retry/fallback classification, and the
split into parts of at most 200 characters. deploy/n8n/e2e.sh runs the same file in a
real n8n; this test is the part that runs in CI.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.schemas import ProcessRequest
from tests.support import ROOT
from tests.support.ollama_stub import file_reply

N8N = ROOT / "deploy" / "n8n"
WORKFLOW_PATH = N8N / "sales-bot.workflow.json"
WORKFLOW: dict[str, Any] = json.loads(WORKFLOW_PATH.read_text(encoding="utf-8"))
CREDENTIALS: list[dict[str, Any]] = json.loads(
    (N8N / "credentials.example.json").read_text(encoding="utf-8")
)
NODES: dict[str, dict[str, Any]] = {n["name"]: n for n in WORKFLOW["nodes"]}
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")

LIMIT = 200
SAFE_ID = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")


def only(node_type: str) -> dict[str, Any]:
    found = [n for n in WORKFLOW["nodes"] if n["type"] == f"n8n-nodes-base.{node_type}"]
    assert len(found) == 1, f"expected one {node_type} node, found {len(found)}"
    return found[0]


def targets(name: str, output: int = 0) -> list[str]:
    outputs = WORKFLOW["connections"].get(name, {}).get("main", [])
    return [c["node"] for c in outputs[output]] if output < len(outputs) else []


def all_targets(name: str) -> Iterator[str]:
    for output in WORKFLOW["connections"].get(name, {}).get("main", []):
        for connection in output:
            yield connection["node"]


def code_of(name: str) -> str:
    node = NODES[name]
    assert node["type"] == "n8n-nodes-base.code"
    return str(node["parameters"]["jsCode"])


HARNESS = r"""
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map(({ code, items, refs, runIndex }) => {
  const wrap = (list) => list.map((json) => ({ json }));
  const input = wrap(items);
  const $input = { all: () => input, first: () => input[0] };
  const $ = (name) => {
    if (!(name in refs)) throw new Error(`unexpected reference to node ${name}`);
    const list = wrap(refs[name]);
    return { all: () => list, first: () => list[0] };
  };
  try {
    const result = new Function('$input', '$', '$runIndex', code)($input, $, runIndex);
    return { items: result.map((item) => item.json) };
  } catch (e) {
    return { error: String(e && e.message) };
  }
});
process.stdout.write(JSON.stringify(out));
"""


def run_code(
    name: str,
    cases: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Runs the Code node `name` once per case ({items, refs?, runIndex?}) in node;
    returns per case {"items": [json, ...]} or {"error": message}."""
    assert NODE is not None
    payload = [
        {
            "code": code_of(name),
            "items": case["items"],
            "refs": case.get("refs", {}),
            "runIndex": case.get("runIndex", 0),
        }
        for case in cases
    ]
    done = subprocess.run(
        [NODE, "-e", HARNESS],
        input=json.dumps(payload, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


# --- shape ----------------------------------------------------------------------------


def test_workflow_is_an_importable_whole() -> None:
    assert WORKFLOW["id"] and WORKFLOW["name"]
    assert WORKFLOW["settings"]["executionOrder"] == "v1"
    assert WORKFLOW["active"] is False  # published by the operator after the credentials
    assert len(NODES) == len(WORKFLOW["nodes"]), "node names must be unique"
    assert len({n["id"] for n in WORKFLOW["nodes"]}) == len(WORKFLOW["nodes"])
    for source, outputs in WORKFLOW["connections"].items():
        assert source in NODES
        for output in outputs["main"]:
            for connection in output:
                assert connection["node"] in NODES
                assert connection["type"] == "main"

    # Every working node hangs off the webhook; only sticky notes stand alone.
    seen, todo = set(), [only("webhook")["name"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(all_targets(name))
    loose = {n for n, node in NODES.items() if node["type"] != "n8n-nodes-base.stickyNote"}
    assert loose - seen == set()

    types = {n["type"] for n in WORKFLOW["nodes"]}
    assert {
        "n8n-nodes-base.webhook",
        "n8n-nodes-base.redis",
        "n8n-nodes-base.wait",
        "n8n-nodes-base.code",
        "n8n-nodes-base.httpRequest",
        "n8n-nodes-base.switch",
        "n8n-nodes-base.respondToWebhook",
    } <= types


def test_the_trigger_is_a_post_webhook_and_every_path_answers_it() -> None:
    hook = only("webhook")
    assert hook["parameters"]["httpMethod"] == "POST"
    assert hook["parameters"]["path"] == "wipon-sales-bot"
    assert hook["parameters"]["responseMode"] == "responseNode"
    ends = [
        n
        for name, n in NODES.items()
        if n["type"] != "n8n-nodes-base.stickyNote" and not list(all_targets(name))
    ]
    assert ends and all(n["type"] == "n8n-nodes-base.respondToWebhook" for n in ends)


def test_the_http_node_calls_the_service_with_the_bearer_credential() -> None:
    http = only("httpRequest")
    params = http["parameters"]
    assert params["method"] == "POST"
    assert "$env.SALES_BOT_URL" in params["url"]
    assert params["url"].endswith("}}/api/v1/process")
    assert params["authentication"] == "genericCredentialType"
    assert params["genericAuthType"] == "httpHeaderAuth"
    credential = http["credentials"]["httpHeaderAuth"]
    template = {c["id"]: c for c in CREDENTIALS}[credential["id"]]
    assert template["type"] == "httpHeaderAuth"
    assert template["name"] == credential["name"]
    assert template["data"]["name"] == "Authorization"
    assert template["data"]["value"].startswith("Bearer ")
    assert params["sendBody"] is True and params["specifyBody"] == "json"
    assert "Склеить и собрать запрос" in params["jsonBody"] and ".request" in params["jsonBody"]
    options = params["options"]
    assert options["timeout"] == 180_000
    # The status code must reach the workflow: no exception on non-2xx, full response.
    assert options["response"]["response"] == {"fullResponse": True, "neverError": True}
    # Network errors leave through the error output; retries are the workflow's own
    # (503/502/connection only), so n8n's blanket retry stays off.
    assert http["onError"] == "continueErrorOutput"
    assert not http.get("retryOnFail")


def test_redis_nodes_use_the_redis_credential_of_the_template() -> None:
    redis = [n for n in WORKFLOW["nodes"] if n["type"] == "n8n-nodes-base.redis"]
    template = {c["id"]: c for c in CREDENTIALS}
    assert {n["parameters"]["operation"] for n in redis} == {"push", "incr", "get", "llen", "pop"}
    for node in redis:
        credential = node["credentials"]["redis"]
        assert template[credential["id"]]["type"] == "redis"
    push = next(n for n in redis if n["parameters"]["operation"] == "push")
    assert push["parameters"]["tail"] is True  # RPUSH: arrival order
    pop = next(n for n in redis if n["parameters"]["operation"] == "pop")
    assert pop["parameters"]["tail"] is False  # LPOP: oldest first


def test_success_and_failure_branches_are_wired() -> None:
    http = only("httpRequest")["name"]
    classify = "Разобрать ответ бота"
    # Both the response output and the error output of the HTTP node are classified.
    assert targets(http, 0) == [classify] and targets(http, 1) == [classify]
    switch = only("switch")
    assert targets(classify) == [switch["name"]]
    rules = switch["parameters"]["rules"]["values"]
    keys = [r["outputKey"] for r in rules]
    assert keys == ["ok", "retry", "fallback"]
    for rule, key in zip(rules, keys, strict=True):
        (condition,) = rule["conditions"]["conditions"]
        assert condition["leftValue"] == "={{ $json.outcome }}"
        assert condition["rightValue"] == key

    (split,) = targets(switch["name"], 0)
    assert split.startswith("Нарезать ответ")
    assert NODES[targets(split)[0]]["type"] == "n8n-nodes-base.respondToWebhook"

    (pause,) = targets(switch["name"], 1)
    assert NODES[pause]["type"] == "n8n-nodes-base.wait"
    assert targets(pause) == [http]  # the retry goes back to the same request

    (fallback,) = targets(switch["name"], 2)
    assert fallback.startswith("FALLBACK") and "заменить" in fallback
    respond = NODES[targets(fallback)[0]]
    assert respond["type"] == "n8n-nodes-base.respondToWebhook"
    assert "fallback: true" in respond["parameters"]["responseBody"]


def test_buffer_window_is_about_five_seconds() -> None:
    window = NODES["Окно склейки ~5 с"]
    assert window["parameters"]["unit"] == "seconds"
    assert "|| 5" in window["parameters"]["amount"]  # SALES_BOT_BUFFER_SECONDS, default 5
    check = NODES["Последнее сообщение в окне?"]
    assert targets("Окно склейки ~5 с") == ["Redis: последний номер"]
    assert NODES[targets(check["name"], 0)[0]]["type"] == "n8n-nodes-base.code"
    assert NODES[targets(check["name"], 1)[0]]["type"] == "n8n-nodes-base.respondToWebhook"


# --- code: input validation and merging -----------------------------------------------


def webhook_item(**body: Any) -> dict[str, Any]:
    return {"headers": {}, "params": {}, "query": {}, "body": body}


@needs_node
def test_validation_accepts_the_documented_shape_and_names_problems() -> None:
    good, seconds, bad = run_code(
        "Проверить вход",
        [
            {
                "items": [
                    webhook_item(
                        channel="WhatsApp",
                        session_id="BOT_7000",
                        user_id="77022951810",
                        text="  Сколько стоит?  ",
                        timestamp_ms=1770801587839,
                    )
                ]
            },
            {
                "items": [
                    webhook_item(
                        session_id="B", user_id=17841400, text="x", timestamp_ms=1770801587
                    )
                ]
            },
            {"items": [webhook_item(channel="telegram", session_id="a b", user_id="", text=" ")]},
        ],
    )
    (msg,) = good["items"]
    assert msg["valid"] is True and msg["problems"] == []
    assert msg["channel"] == "whatsapp" and msg["text"] == "Сколько стоит?"
    assert msg["timestamp_ms"] == 1770801587839
    assert msg["buf_key"] == "salesbot:buf:BOT_7000|77022951810"
    assert msg["seq_key"] == "salesbot:seq:BOT_7000|77022951810"

    (msg,) = seconds["items"]
    assert msg["valid"] is True and msg["user_id"] == "17841400" and msg["channel"] is None
    assert msg["timestamp_ms"] == 1770801587000  # WAHA sends seconds

    (msg,) = bad["items"]
    assert msg["valid"] is False
    assert [p.split(":")[0] for p in msg["problems"]] == [
        "session_id",
        "user_id",
        "channel",
        "text",
    ]


def popped(*texts: str, channel: str | None = "whatsapp") -> list[dict[str, Any]]:
    return [
        {
            "msg": {
                "text": t,
                "timestamp_ms": 1770801587000 + i,
                "received_ms": 1770801588000 + i,
                "channel": channel,
            }
        }
        for i, t in enumerate(texts)
    ]


REMEMBERED = {
    "session_id": "BOT_7000",
    "user_id": "77022951810",
    "channel": "whatsapp",
    "seq": 7,
    "buf_key": "salesbot:buf:BOT_7000|77022951810",
    "seq_key": "salesbot:seq:BOT_7000|77022951810",
}


@needs_node
def test_merge_builds_a_request_the_api_accepts_with_a_stable_request_id() -> None:
    refs = {"Запомнить номер": [REMEMBERED]}
    later = {"Запомнить номер": [{**REMEMBERED, "seq": 8}]}
    cases = [
        {"items": popped("Добрый день", "  Нужна программа для магазина "), "refs": refs},
        {"items": popped("Добрый день", "  Нужна программа для магазина "), "refs": refs},
        {"items": popped("Добрый день", "  Нужна программа для магазина "), "refs": later},
        {"items": popped("Добрый день"), "refs": refs},
        {
            "items": popped("Привет", channel=None),
            "refs": {"Запомнить номер": [{**REMEMBERED, "channel": None}]},
        },
        {"items": [{"msg": None}], "refs": refs},
    ]
    first, again, next_seq, other_text, no_channel, empty = run_code(
        "Склеить и собрать запрос", cases
    )

    (out,) = first["items"]
    request = out["request"]
    parsed = ProcessRequest.model_validate(request)
    assert parsed.message.text == "Добрый день\nНужна программа для магазина"
    assert parsed.message.timestamp_ms == 1770801587001  # the last message's
    assert (parsed.session_id, parsed.user_id, parsed.channel) == (
        "BOT_7000",
        "77022951810",
        "whatsapp",
    )
    assert parsed.context.timezone == "Asia/Almaty" and parsed.context.time_of_day is not None
    assert request["context"]["meta"] == {"source": "n8n", "batch_size": 2, "seq": 7}
    assert out["batch_size"] == 2 and out["request_id"] == request["request_id"]
    assert SAFE_ID.match(request["request_id"]) and request["request_id"].startswith("n8n-7-")

    # Stable for the same batch (retries, re-runs), different for any other batch.
    assert again["items"][0]["request_id"] == out["request_id"]
    assert next_seq["items"][0]["request_id"] != out["request_id"]
    assert other_text["items"][0]["request_id"] != out["request_id"]

    assert "channel" not in no_channel["items"][0]["request"]
    ProcessRequest.model_validate(no_channel["items"][0]["request"])
    assert "пуст" in empty["error"]


@needs_node
def test_sequence_bookkeeping_nodes() -> None:
    validated = {**REMEMBERED}
    del validated["seq"]
    remembered, plan, nothing = (
        run_code(
            "Запомнить номер",
            [{"items": [{REMEMBERED["seq_key"]: 3}], "refs": {"Проверить вход": [validated]}}],
        )[0],
        *run_code(
            "По элементу на сообщение",
            [
                {"items": [{REMEMBERED["buf_key"]: 3}], "refs": {"Запомнить номер": [REMEMBERED]}},
                {"items": [{REMEMBERED["buf_key"]: 0}], "refs": {"Запомнить номер": [REMEMBERED]}},
            ],
        ),
    )
    assert remembered["items"] == [{**validated, "seq": 3}]
    assert len(plan["items"]) == 3  # one LPOP per message counted by LLEN
    assert nothing["items"] == []


# --- code: classification of the service's answer -------------------------------------


def response(status: int, body: Any) -> dict[str, Any]:
    """The HTTP node's item with fullResponse and neverError."""
    return {"statusCode": status, "statusMessage": "", "headers": {}, "body": body}


def failure(status: int, code: str) -> dict[str, Any]:
    return response(status, {"error": {"code": code, "message": f"{code} happened"}})


@needs_node
def test_classification_follows_the_fallback_rule_and_retries_only_503_and_connections() -> None:
    now_ms = 10**13  # flushed "in the future": the retry budget never runs out here
    request = {
        "request_id": "n8n-1-abc",
        "session_id": "S",
        "user_id": "U",
        "channel": "whatsapp",
        "text": "Сколько стоит?",
        "flushed_ms": now_ms,
    }
    refs = {"Склеить и собрать запрос": [request]}
    answer = {"answer": "Тариф уточню у коллег.", "meta": {"turn": 1}}
    unavailable = failure(503, "SERVICE_UNAVAILABLE")
    refused = {"message": "connect ECONNREFUSED 127.0.0.1:8000", "code": "ECONNREFUSED"}
    timeout = {"message": "timeout of 180000ms exceeded", "code": "ECONNABORTED"}
    # (the HTTP node's item, $runIndex, expected outcome, expected error_code)
    cases: list[tuple[dict[str, Any], int, str, str | None]] = [
        (response(200, answer), 0, "ok", None),
        (response(200, {**answer, **failure(200, "INTERNAL")["body"]}), 0, "fallback", "INTERNAL"),
        (response(200, {"answer": "  "}), 0, "fallback", "NO_ANSWER"),
        (response(200, "not json"), 0, "fallback", "NO_ANSWER"),
        (failure(401, "UNAUTHORIZED"), 0, "fallback", "UNAUTHORIZED"),
        (failure(400, "BAD_REQUEST"), 0, "fallback", "BAD_REQUEST"),
        (failure(429, "RATE_LIMIT"), 0, "fallback", "RATE_LIMIT"),
        # A request_id reused with another text: final, a retry would get the same.
        (failure(409, "CONFLICT"), 0, "fallback", "CONFLICT"),
        (failure(500, "INTERNAL"), 0, "fallback", "INTERNAL"),
        (unavailable, 0, "retry", "SERVICE_UNAVAILABLE"),
        (unavailable, 1, "retry", "SERVICE_UNAVAILABLE"),
        (unavailable, 2, "fallback", "SERVICE_UNAVAILABLE"),  # the third attempt is the last
        (response(502, "<html>Bad Gateway</html>"), 0, "retry", "HTTP_502"),
        (failure(504, "SERVICE_UNAVAILABLE"), 0, "fallback", "SERVICE_UNAVAILABLE"),
        ({**request, "error": refused}, 0, "retry", "CONNECTION"),
        ({**request, "error": timeout}, 0, "fallback", "TIMEOUT"),
    ]
    results = run_code(
        "Разобрать ответ бота",
        [{"items": [item], "refs": refs, "runIndex": run} for item, run, _, _ in cases],
    )
    for (item, run, outcome, code), result in zip(cases, results, strict=True):
        (out,) = result["items"]
        assert (out["outcome"], out["error_code"]) == (outcome, code), item
        assert out["attempt"] == run + 1
        assert out["request_id"] == "n8n-1-abc" and out["text"] == "Сколько стоит?"
        assert not {"error", "statusCode", "body"} & set(out)  # never mistaken for an n8n error
    ok = results[0]["items"][0]
    assert ok["answer"] == answer["answer"] and ok["meta"] == {"turn": 1}
    assert results[4]["items"][0]["status"] == 401
    assert results[4]["items"][0]["reason"] == "UNAUTHORIZED happened"

    # Out of the retry budget: a 503 goes straight to the fallback.
    stale = {"Склеить и собрать запрос": [{**request, "flushed_ms": 0}]}
    (late,) = run_code(
        "Разобрать ответ бота",
        [
            {
                "items": [
                    response(503, {"error": {"code": "SERVICE_UNAVAILABLE", "message": "x"}})
                ],
                "refs": stale,
            }
        ],
    )
    assert late["items"][0]["outcome"] == "fallback"


# --- code: splitting the answer -------------------------------------------------------


def split(*answers: str) -> list[list[str]]:
    results = run_code(
        "Нарезать ответ ≤200 символов",
        [
            {"items": [{"outcome": "ok", "answer": a, "request_id": "r", "attempt": 1, "meta": {}}]}
            for a in answers
        ],
    )
    parts = []
    for answer, result in zip(answers, results, strict=True):
        items = result["items"]
        assert [i["index"] for i in items] == list(range(1, len(items) + 1))
        assert all(i["total"] == len(items) and i["request_id"] == "r" for i in items)
        texts = [i["text"] for i in items]
        assert all(0 < len(t) <= LIMIT and t == t.strip() for t in texts), texts
        assert squash("".join(texts)) == squash(answer)
        parts.append(texts)
    return parts


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


SENTENCES = [
    "Wipon — программа для учёта товаров и продаж в магазине.",
    "Она работает на компьютере, планшете и даже на телефоне кассира!",
    "К ней подключаются сканер штрихкодов, весы и фискальный регистратор, "
    "поэтому отдельная касса не нужна.",
    "Отчёты по выручке владелец смотрит с телефона.",
    "Перенос справочника товаров со старой программы занимает обычно один день, "
    "и наши специалисты помогают с ним бесплатно.",
    "Сколько касс у вас в магазине?",
]


@needs_node
def test_a_long_answer_is_split_on_sentence_boundaries() -> None:
    answer = " ".join(SENTENCES)
    assert 400 <= len(answer) <= 500
    (parts,) = split(answer)
    assert len(parts) >= 3
    for part in parts:
        assert part[-1] in ".!?…"
        # Each part is a run of whole sentences.
        assert any(part == " ".join(SENTENCES[i:j]) for i in range(6) for j in range(i + 1, 7))


@needs_node
def test_exclamation_and_question_marks_end_sentences_too() -> None:
    exclaim = "Это " + "очень " * 23 + "удобно!"  # ~150 characters each
    question = "А " + "как " * 35 + "у вас?"
    tail = "Ответьте, когда удобно."
    (parts,) = split(f"{exclaim} {question} {tail}")
    assert parts == [exclaim, f"{question} {tail}"]


@needs_node
def test_a_sentence_over_the_limit_is_split_between_words() -> None:
    words = [f"слово{i}" for i in range(70)]
    sentence = " ".join(words) + "."
    link = "https://wipon.kz/" + "a" * 430
    short, long_sentence, with_link, lines = split(
        "Добрый день! Чем занимается ваш бизнес?",
        sentence,
        f"Ссылка на инструкцию: {link} Откройте её.",
        "Тарифы:\n- Старт\n- Бизнес\n\nКакой вам ближе?",
    )
    assert short == ["Добрый день! Чем занимается ваш бизнес?"]
    assert len(long_sentence) >= 3
    assert [w for p in long_sentence for w in p.split()] == sentence.split()  # no word cut
    assert any(len(p) == LIMIT for p in with_link)  # a word longer than the limit is cut hard
    assert "".join(with_link).count("a") == 430
    assert lines == ["Тарифы:\n- Старт\n- Бизнес\n\nКакой вам ближе?"]  # line breaks kept


@needs_node
def test_the_limit_counts_characters_not_utf16_units() -> None:
    answer = "Отлично 👍 " * 30  # 300 characters, 330 UTF-16 code units
    (parts,) = split(answer.strip())
    assert len(parts) == 2 and all(len(p) <= LIMIT for p in parts)


# --- the e2e script and the stub option it uses ---------------------------------------


def test_e2e_script_is_strict_shell_and_pins_n8n() -> None:
    script = N8N / "e2e.sh"
    parsed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    text = script.read_text(encoding="utf-8")
    assert "set -euo pipefail" in text and "trap cleanup EXIT" in text
    assert re.search(r"^N8N_VERSION=2\.8\.\d+$", text, re.MULTILINE)
    assert '"overrides": { "xlsx": "$XLSX_VERSION" }' in text
    for setting in (
        "DO_NOT_TRACK=1",
        "N8N_DIAGNOSTICS_ENABLED=false",
        "N8N_VERSION_NOTIFICATIONS_ENABLED=false",
    ):
        assert setting in text
    shellcheck = shutil.which("shellcheck")
    if shellcheck:
        checked = subprocess.run([shellcheck, str(script)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout


def test_stub_answer_file_is_read_per_call(tmp_path: Path) -> None:
    path = tmp_path / "answer.txt"
    reply = file_reply(str(path))
    free_text: dict[str, Any] = {"messages": [{"role": "user", "content": "?"}]}
    structured: dict[str, Any] = {
        "format": {"type": "object", "properties": {"a": {"type": "string"}}}
    }
    assert reply(free_text).startswith("Спасибо за сообщение")  # no file: the canned answer
    path.write_text("Длинный ответ.\n", encoding="utf-8")
    assert reply(free_text) == "Длинный ответ."
    assert json.loads(reply(structured)) == {"a": ""}
    path.write_text("", encoding="utf-8")
    assert reply(free_text).startswith("Спасибо за сообщение")

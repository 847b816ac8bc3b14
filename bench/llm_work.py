"""LLM work per turn over the recorded-dialogue suite, and the modelled latency
of a turn on the runbook's GPU.

    .venv/bin/python -m bench.llm_work

Replays every dialogue under tests/dialogues through the service (as the test
suite does) and counts, per customer turn, the LLM calls, the prompt size and
the answer size the model was asked for. Tokens are estimated from characters
(no tokenizer of the model is available offline): Russian text in Mistral-family
vocabularies runs at about 3 characters per token, so prompt_tokens ≈ chars / 3.

A call's prompt is also counted as the GPU has to prefill it: Ollama keeps the KV
cache of the prompt a slot processed last and reuses the prefix a new prompt
shares with it. Calls here come one after another, and with Ollama's default
single-user cache (a call goes to the slot with the longest shared prefix) they
keep landing on one slot, so a call reuses what it shares with the call before it:
a regeneration, which resends its draft's prompt and adds a note, prefills the
note only.

Then a turn's latency on an RTX 4000 SFF Ada (20 GB GDDR6, 280 GB/s) running
ministral-3 14B q8_0 (9.3 GB of weights, per the runbook's `ollama list`) is
modelled: decoding is memory-bandwidth bound (every generated token reads all
weights once), prefill is compute bound.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from typing import Any

from tests.support import TESTS
from tests.support.dialogues import load_dialogue, replay
from tests.support.ollama_stub import OllamaStub

CHARS_PER_TOKEN = 3.0

# The modelled GPU and model (see the module docstring).
BANDWIDTH_GB_S = 280.0
WEIGHTS_GB = 9.3
DECODE_EFFICIENCY = 0.7  # share of peak bandwidth llama.cpp reaches when decoding
PREFILL_TOKENS_PER_S = 1500.0  # 14B q8 prefill on an Ada card of this class, batch 1
OVERHEAD_PER_CALL_S = 0.05  # HTTP, sampling setup, JSON-schema grammar compile


def decode_tokens_per_s() -> float:
    return BANDWIDTH_GB_S * DECODE_EFFICIENCY / WEIGHTS_GB


def _content(message: dict[str, Any]) -> str:
    return str(message.get("content", ""))


def _common_start(a: str, b: str) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
        min(len(a), len(b)),
    )


def prefill_chars(call: dict[str, Any], previous: dict[str, Any] | None) -> int:
    """The characters of `call`'s prompt left to prefill after the prefix it shares
    with the previous call's prompt: whole messages alike in role and content, then
    the common start of the first message that differs in content only."""
    messages = call["messages"]
    total = sum(len(_content(m)) for m in messages)
    shared = 0
    for mine, theirs in zip(messages, previous["messages"] if previous else [], strict=False):
        if mine.get("role") != theirs.get("role"):
            break
        common = _common_start(_content(mine), _content(theirs))
        shared += common
        if common < max(len(_content(mine)), len(_content(theirs))):
            break
    # A prompt met whole still has its last token evaluated.
    return max(total - shared, round(CHARS_PER_TOKEN))


async def measure() -> dict[str, Any]:
    files = sorted(
        p for p in (TESTS / "dialogues").rglob("*.yaml") if not p.name.endswith(".cassette.yaml")
    )
    calls_per_turn: list[int] = []
    prompt_chars: list[int] = []
    prefill: list[int] = []
    previous: dict[str, Any] | None = None
    answer_chars: list[int] = []
    analysis_chars: list[int] = []
    turns = 0
    bad_drafts = 0  # turns whose recorded draft breaks a guard on purpose
    with OllamaStub() as stub:
        for path in files:
            loaded = load_dialogue(path)
            if loaded.format_problems():
                continue
            start = len(stub.chat_requests())
            result = await replay(loaded, stub)
            requests = stub.chat_requests()[start:]
            stub.queue.clear()
            per_turn: dict[int, list[dict[str, Any]]] = {}
            # Calls are attributed to turns by counting the observations: each
            # turn's calls are the requests made between two responses.
            bounds = [o.llm_calls for o in result.observations]
            bad_drafts += sum(1 for o in result.observations if o.guard_violations)
            cursor = 0
            for index, n in enumerate(bounds):
                per_turn[index] = requests[cursor : cursor + n]
                cursor += n
            for calls in per_turn.values():
                turns += 1
                calls_per_turn.append(len(calls))
                chars = sum(len(str(m.get("content", ""))) for c in calls for m in c["messages"])
                prompt_chars.append(chars)
                fresh = 0
                for c in calls:
                    fresh += prefill_chars(c, previous)
                    previous = c
                prefill.append(fresh)
                for c in calls:
                    reply = str(c.get("_reply", ""))
                    (analysis_chars if c.get("format") else answer_chars).append(len(reply))
    return {
        "dialogues": len(files),
        "turns": turns,
        "calls_per_turn_mean": round(statistics.fmean(calls_per_turn), 3),
        "calls_per_turn_max": max(calls_per_turn),
        "turns_with_a_deliberately_bad_draft": bad_drafts,
        "prompt_tokens_per_turn_mean": round(statistics.fmean(prompt_chars) / CHARS_PER_TOKEN),
        "prompt_tokens_per_turn_max": round(max(prompt_chars) / CHARS_PER_TOKEN),
        "prefill_tokens_per_turn_mean": round(statistics.fmean(prefill) / CHARS_PER_TOKEN),
        "prefill_tokens_per_turn_max": round(max(prefill) / CHARS_PER_TOKEN),
        "answer_tokens_mean": round(statistics.fmean(answer_chars) / CHARS_PER_TOKEN)
        if answer_chars
        else 0,
        "analysis_tokens_mean": round(statistics.fmean(analysis_chars) / CHARS_PER_TOKEN)
        if analysis_chars
        else 0,
        "calls_per_turn": calls_per_turn,
    }


def model_latency(result: dict[str, Any]) -> dict[str, float]:
    calls = float(result["calls_per_turn_mean"])
    prompt = float(result["prefill_tokens_per_turn_mean"])
    generated = float(result["analysis_tokens_mean"]) + float(result["answer_tokens_mean"])
    decode = decode_tokens_per_s()
    prefill_s = prompt / PREFILL_TOKENS_PER_S
    decode_s = generated / decode
    return {
        "decode_tokens_per_s": round(decode, 1),
        "prefill_tokens_per_s": PREFILL_TOKENS_PER_S,
        "prefill_s": round(prefill_s, 2),
        "decode_s": round(decode_s, 2),
        "overhead_s": round(calls * OVERHEAD_PER_CALL_S, 2),
        "turn_s": round(prefill_s + decode_s + calls * OVERHEAD_PER_CALL_S, 2),
    }


def main() -> None:
    result = asyncio.run(measure())
    calls = result.pop("calls_per_turn")
    result["turns_by_call_count"] = {str(n): calls.count(n) for n in sorted(set(calls))}
    result["modelled_rtx4000_sff_ada"] = model_latency(result)
    print("# LLM work per turn over tests/dialogues (tokens ≈ chars / 3)")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()

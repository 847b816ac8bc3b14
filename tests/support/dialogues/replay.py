"""Replaying a dialogue through the service with an Ollama-protocol server that
serves the recorded replies (tests.support.ollama_stub)."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any, Protocol

from tests.support.dialogues.checker import check_step
from tests.support.dialogues.driver import DialogueService
from tests.support.dialogues.format import LoadedDialogue, Reply
from tests.support.dialogues.report import ReplayResult, StepFailure


class ScriptedOllama(Protocol):
    """An Ollama-protocol server serving queued replies (tests.support.ollama_stub.OllamaStub).

    `push` queues replies (strings, or callables of the request returning one);
    `queue` holds those not yet served; `errors` lists calls that found no reply.
    """

    @property
    def url(self) -> str: ...

    @property
    def queue(self) -> Collection[Any]: ...

    @property
    def errors(self) -> list[str]: ...

    def push(self, *replies: Any) -> None: ...


class _ServedReply:
    """A recorded reply that notes which kind of call consumed it.

    A structured (JSON object) reply served to a plain-text answer call means the
    calls of the turn no longer line up with the recording.
    """

    def __init__(self, reply: Reply, number: int, log: list[str]):
        self.reply = reply
        self.number = number
        self.log = log

    def __call__(self, request: dict[str, Any]) -> str:
        structured = bool(request.get("format"))
        if isinstance(self.reply, dict):
            if not structured:
                self.log.append(
                    f"recorded reply {self.number} is a JSON object, but call {self.number} "
                    "asks for a plain-text answer"
                )
            return json.dumps(self.reply, ensure_ascii=False)
        return self.reply


async def replay(
    loaded: LoadedDialogue, ollama: ScriptedOllama, *, kb_cache_dir: Path | None = None
) -> ReplayResult:
    """Run the dialogue's steps through the service, serving the recorded replies.

    Stops at the first failing step: later steps would run on a conversation that
    has already gone elsewhere, and their failures would only be noise.
    """
    if ollama.queue:
        # They would be served to this dialogue's first calls and misread as its own.
        raise ValueError("the scripted Ollama still has replies queued from an earlier run")
    dialogue = loaded.dialogue
    result = ReplayResult(loaded, [])
    stamps = dialogue.timestamps()
    async with DialogueService.open(
        ollama.url, kb_path=loaded.kb_path, kb_cache_dir=kb_cache_dir
    ) as service:
        await service.apply_fixtures(dialogue)
        for index, step in enumerate(dialogue.steps):
            replies = loaded.replies[index]
            if replies is None:
                why = loaded.stale.get(index, "no replies are recorded for this step")
                result.failure = StepFailure(index, None, stale=[why])
                return result
            call_log: list[str] = []
            ollama.errors.clear()
            ollama.push(*(_ServedReply(r, n, call_log) for n, r in enumerate(replies, 1)))
            observed = await service.turn(
                dialogue,
                step.user,
                stamps[index],
                stored_profile=step.expect.stored_profile is not None,
            )
            result.observations.append(observed)
            stale = list(call_log)
            if ollama.errors:
                stale.append(
                    f"the code made more LLM calls than the {len(replies)} recorded "
                    f"({len(ollama.errors)} call(s) found no recorded reply)"
                )
            unused = len(ollama.queue)
            if unused:
                stale.append(
                    f"{unused} recorded repl{'y is' if unused == 1 else 'ies are'} no longer "
                    f"asked for (the code made {len(replies) - unused} of the "
                    f"{len(replies)} recorded calls)"
                )
            # On a stale step the assertions only repeat the staleness (a 503, a
            # wrong answer): the recording is what has to be fixed first.
            mismatches = [] if stale else check_step(step.expect, observed)
            if stale or mismatches:
                result.failure = StepFailure(index, observed, mismatches, stale)
                return result
    return result

"""Playing dialogues for the scorecard: each dialogue's customer lines, and only
those, go through the real service (a fresh temporary database, the dialogue's
KB and fixtures) to a live Ollama behind a proxy that notes each call's tokens and
timings, with the guard's calls noted beside them. The recorded replies in the
files are never served.

Results are added to the `ScoreRun` as they come, so whatever was played is
there when the run is interrupted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.support.dialogues.driver import DialogueService, Observation
from tests.support.dialogues.format import LoadedDialogue
from tests.support.dialogues.recorder import RecordedCall, RecordingProxy
from tests.support.dialogues.report import display_path
from tests.support.dialogues.scoring.flags import turn_flags
from tests.support.dialogues.scoring.guard_log import GuardLog, GuardTurn
from tests.support.dialogues.scoring.model import (
    CallScore,
    DialogueScore,
    ScoreRun,
    TurnScore,
    totals,
)

Progress = Callable[[str], None]
ERROR_CHARS = 300


def _call_score(call: RecordedCall) -> CallScore:
    usage = call.usage
    return CallScore(
        kind="analysis" if call.structured else "answer",
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        total_s=usage.total_s if usage else 0.0,
        eval_s=usage.eval_s if usage else 0.0,
        wall_s=round(usage.wall_s, 6) if usage else 0.0,
    )


def turn_score(
    number: int,
    customer: str,
    observed: Observation,
    calls: Sequence[RecordedCall],
    call_errors: Sequence[str],
    guard: GuardTurn,
    log: GuardLog,
) -> TurnScore:
    """One played turn as the scorecard keeps it."""
    meta = observed.meta
    answered = observed.status == 200
    error = ""
    if not answered:
        error = "; ".join([f"HTTP {observed.status}: {observed.error}", *call_errors])
    answer = observed.answer
    return TurnScore(
        number=number,
        customer=customer,
        answer=answer,
        status=observed.status,
        latency_s=round(observed.latency_s, 4),
        error=" ".join(error.split())[:ERROR_CHARS],
        intent=meta.get("intent"),
        phase=meta.get("phase"),
        outcome=meta.get("outcome"),
        handoff=bool(meta.get("handoff")),
        calls=[_call_score(c) for c in calls],
        drafts=[list(d.codes) for d in guard.drafts],
        violations_after=list(log.check_final(guard, answer)) if answered else [],
        edited=guard.edited,
        fallback=guard.repaired,
        fixed_answer=answered and answer.strip() in log.fixed_texts(),
    )


def _turn_line(label: str, turn: TurnScore, steps: int) -> str:
    noted = turn_flags(turn.as_json())
    return (
        f"{label} turn {turn.number}/{steps}: {turn.latency_s:.2f} s, {turn.llm_calls} calls, "
        f"{turn.prompt_tokens} prompt tokens" + (f" — {'; '.join(noted)}" if noted else "")
    )


def _dialogue_line(label: str, score: DialogueScore) -> str:
    if score.error:
        return f"{label} stopped after {len(score.turns)}/{score.steps} turns: {score.error}"
    t = totals(score.turns)
    return (
        f"{label} done: {t['turns']} turns, {t['llm_calls_per_turn']:.2f} calls/turn, "
        f"p50 {t['latency_s']['p50']:.2f} s, flagged {t['turns_flagged_before']} → "
        f"{t['turns_flagged_after']} after repair"
    )


async def play_dialogue(
    loaded: LoadedDialogue,
    score: DialogueScore,
    *,
    ollama_url: str,
    model: str,
    kb_cache_dir: Path,
    progress: Progress,
    label: str,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Play `loaded`'s customer lines, appending each turn to `score`; stop at the
    first turn the service could not answer (the conversation has left its script)."""
    dialogue = loaded.dialogue
    stamps = dialogue.timestamps()
    with RecordingProxy(ollama_url) as proxy:
        async with DialogueService.open(
            proxy.url, kb_path=loaded.kb_path, model=model, kb_cache_dir=kb_cache_dir
        ) as service:
            services = service.runtime.services
            log = GuardLog(services.guard)
            services.guard = log
            await service.apply_fixtures(dialogue)
            for index, step in enumerate(dialogue.steps):
                if should_stop():
                    return
                guard = log.start_turn()
                first_call, first_error = len(proxy.calls), len(proxy.errors)
                observed = await service.turn(dialogue, step.user, stamps[index])
                turn = turn_score(
                    index + 1,
                    step.user,
                    observed,
                    proxy.calls[first_call:],
                    proxy.errors[first_error:],
                    guard,
                    log,
                )
                score.turns.append(turn)
                progress(_turn_line(label, turn, score.steps))
                if turn.failed:
                    score.error = f"turn {turn.number}: {turn.error}"
                    return
    score.complete = True


async def play_all(
    dialogues: Sequence[LoadedDialogue],
    run: ScoreRun,
    *,
    concurrency: int,
    kb_cache_dir: Path,
    progress: Progress,
    on_dialogue_done: Callable[[], object] = lambda: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Play every dialogue, `concurrency` at a time, into `run`; when `should_stop`
    turns true, no further turn or dialogue starts."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(index: int, loaded: LoadedDialogue) -> None:
        async with gate:
            if should_stop():
                return
            score = DialogueScore(
                index=index,
                path=display_path(loaded.path),
                test_case=loaded.dialogue.test_case,
                steps=len(loaded.dialogue.steps),
            )
            run.dialogues.append(score)
            label = f"[{index + 1}/{len(dialogues)} {score.test_case}]"
            try:
                await play_dialogue(
                    loaded,
                    score,
                    ollama_url=run.ollama,
                    model=run.model,
                    kb_cache_dir=kb_cache_dir,
                    progress=progress,
                    label=label,
                    should_stop=should_stop,
                )
            except Exception as exc:
                # One dialogue that breaks the harness must not cost the whole run.
                score.error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
            progress(_dialogue_line(label, score))
            on_dialogue_done()

    await asyncio.gather(*(one(i, d) for i, d in enumerate(dialogues)))

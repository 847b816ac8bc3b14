"""The core checks an analysis before it stores it, whoever made it: at most
`max_evidence` quotes, each occurring in the stored transcript, categories of the
point's kind of shop, a complete and consistent judgement. A local worker's invalid
result is refused like a remote one's: nothing stored, the job failed with the
reason and tried again after its backoff."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import JobSettings, load_settings
from salescontrol import jobs
from salescontrol.db.models import Analysis, Job
from salescontrol.pipeline.messages import ANALYSIS, AnalysisResult, JobResult, TranscriptResult
from salescontrol.pipeline.outputs import (
    InvalidResult,
    analysis_problem,
    apply_analysis,
    apply_transcript,
)
from salescontrol.pipeline.worker.loop import Worker
from tests.salescontrol.dashboard.rows import add_dialogue, add_shop
from tests.salescontrol.pipeline.test_worker import backend, settings

TEXT = "Здравствуйте! Капучино, пожалуйста. Большой или средний? Давайте большой."
COFFEE = list(load_settings().salescontrol.businesses["coffee_shop"].categories)


def result(**changes: Any) -> AnalysisResult:
    """A valid analysis of TEXT at a coffee shop, with `changes`."""
    fields: dict[str, Any] = {
        "status": "done", "attempted": "yes", "quality": 2, "categories": ["coffee_size"],
        "customer_reaction": "accepted", "evidence": ["Большой или средний?"],
        "summary": "Предложил больший объём.", "confidence": 0.8, "model": "m",
        "prompt_version": "v",
    }  # fmt: skip
    return AnalysisResult(**(fields | changes))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"evidence": ["здравствуйте", "капучино", "давайте большой", "пожалуйста"]},
         "4 evidence quotes, at most 3 allowed"),
        # Matched as whole words, as the worker matches its model's quotes.
        ({"evidence": ["Большой или сред"]}, "evidence quote 1 does not occur"),
        ({"evidence": ["КАПУЧИНО пожалуйста", "Давайте большой!!"]}, None),
        ({"categories": ["dessert", "bags"]}, "categories bags are not among the point's"),
        ({"customer_reaction": "none"}, "inconsistent judgement: reaction_iff_no_attempt"),
        ({"categories": ["dessert", "dessert"]}, "inconsistent judgement: categories_repeat"),
        ({"quality": None}, "a done analysis needs attempted, quality and customer_reaction"),
        ({"status": "skipped", "skip_reason": "мало слов", "attempted": None, "quality": None,
          "customer_reaction": None, "categories": [], "evidence": []}, None),
    ],
)  # fmt: skip
def test_what_the_core_refuses_to_store(changes: dict[str, Any], problem: str | None) -> None:
    found = analysis_problem(result(**changes), TEXT, COFFEE, max_evidence=3)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem), found


def test_quotes_need_their_transcript_and_the_limit_is_the_setting() -> None:
    assert analysis_problem(result(), "", COFFEE, 3) == (
        "evidence quote 1 does not occur in the dialogue's transcript"
    )
    assert analysis_problem(result(evidence=[]), "", COFFEE, 3) is None
    assert analysis_problem(result(evidence=["Давайте большой"] * 2), TEXT, COFFEE, 1) == (
        "2 evidence quotes, at most 1 allowed"
    )
    # A point whose kind of shop settings.yaml does not know has no categories.
    assert analysis_problem(result(), TEXT, [], 3) == (
        "categories coffee_size are not among the point's "
        "(none: its kind of shop is not configured)"
    )


async def transcribed(
    sessions: async_sessionmaker[AsyncSession], jobs_cfg: JobSettings
) -> uuid.UUID:
    """A coffee shop's closed dialogue with TEXT stored as its transcript (which
    queues its analysis job)."""
    async with sessions() as db, db.begin():
        shop = await add_shop(db, "Кофейня", "Asia/Almaty")
        dialogue = await add_dialogue(db, shop, "2026-12-04 10:00")
        transcript = TranscriptResult(text=TEXT, segments=[], language="ru", model="whisper")
        await apply_transcript(db, dialogue.id, transcript, jobs_cfg)
    return dialogue.id


async def test_a_local_workers_invalid_analysis_is_refused_and_tried_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    sc = settings()
    dialogue_id = await transcribed(sessions, sc.jobs)
    answers = [result(evidence=["Хотите десерт?"]), result()]

    async def judge(job: jobs.Claimed) -> JobResult:
        return answers.pop(0)

    worker = Worker(ANALYSIS, backend(sessions, sc), judge, sc, "local")
    assert await worker.run_one()
    async with sessions() as db:
        runs = list(await db.scalars(select(Analysis)))
        job = await db.scalar(select(Job).where(Job.subject_id == dialogue_id))
    assert runs == [] and worker.done == 0
    assert job is not None and (job.state, job.attempts) == ("queued", 1)
    assert job.last_error == (
        "result refused: invalid analysis: evidence quote 1 does not occur in the "
        "dialogue's transcript"
    )

    while not await worker.run_one():  # wait out the backoff
        await asyncio.sleep(0.02)
    async with sessions() as db:
        runs = list(await db.scalars(select(Analysis)))
        job = await db.scalar(select(Job).where(Job.subject_id == dialogue_id))
    assert job is not None
    assert [(r.dialogue_id, r.run, r.evidence) for r in runs] == [
        (dialogue_id, 1, ["Большой или средний?"])
    ]
    assert (job.state, job.attempts, worker.done) == ("done", 2, 1)


async def test_nothing_is_stored_for_a_dialogue_without_a_transcript(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as db:
        dialogue = await add_dialogue(
            db, await add_shop(db, "Кофейня", "Asia/Almaty"), "2026-12-04 10:00"
        )
        with pytest.raises(InvalidResult, match="has no transcript"):
            await apply_analysis(db, dialogue.id, result(evidence=[]), settings())

"""Dialogue routes: asking for a dialogue's analysis to run again (a new prompt or
model; the earlier runs stay as history). Reading dialogues is the dashboard's."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

from core.http import APIError, openapi_error_responses
from salescontrol import jobs
from salescontrol.db.models import Dialogue
from salescontrol.ingest.deps import AdminDep, DbDep
from salescontrol.pipeline.messages import ANALYSIS

router = APIRouter(prefix="/dialogues", tags=["dialogues"])


class Requeued(BaseModel):
    state: str
    """`queued`: the analysis will run again."""


@router.post(
    "/{dialogue_id}/reanalyse",
    response_model=Requeued,
    status_code=202,
    responses=openapi_error_responses(401, 403, 404, 409),
    summary="Run the dialogue's analysis again (kept as a new run)",
)
async def reanalyse(dialogue_id: uuid.UUID, _: AdminDep, db: DbDep) -> Requeued:
    if await db.get(Dialogue, dialogue_id) is None:
        raise APIError(404, "No such dialogue")
    state = await jobs.requeue(db, ANALYSIS, dialogue_id)
    if state is None:
        raise APIError(409, "The dialogue has not been analysed yet")
    if state != "queued":
        # Never two runs at once: the running one finishes first.
        raise APIError(409, f"Its analysis is {state} now; ask again when it is done")
    await db.commit()
    return Requeued(state=state)

"""Dialogue routes: asking for a dialogue's analysis to run again (a new prompt or
model; the earlier runs stay as history). Reading dialogues is the dashboard's."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

from core.http import APIError, openapi_error_responses
from salescontrol.ingest.deps import AdminDep, DbDep
from salescontrol.pipeline.reanalysis import request_reanalysis

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
    outcome = await request_reanalysis(db, dialogue_id)
    if outcome == "no_dialogue":
        raise APIError(404, "No such dialogue")
    if outcome == "not_analysed":
        raise APIError(409, "The dialogue has not been analysed yet")
    if outcome == "running":
        # Never two runs at once: the running one finishes first.
        raise APIError(409, "Its analysis is running now; ask again when it is done")
    await db.commit()
    return Requeued(state=outcome)

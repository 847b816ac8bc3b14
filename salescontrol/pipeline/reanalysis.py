"""Asking for a dialogue's analysis to run again (a new prompt or model): the one
rule the API's route and the dashboard's button share. The earlier runs stay as
history; a run in progress is never doubled — it finishes first."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol import jobs
from salescontrol.db.models import Dialogue
from salescontrol.pipeline.messages import ANALYSIS

Outcome = Literal["queued", "running", "not_analysed", "no_dialogue"]
"""`queued`: it will run again; `running`: it runs now, ask again when it is done;
`not_analysed`: its first analysis has not been asked for yet (no transcript);
`no_dialogue`: there is no such dialogue."""


async def request_reanalysis(db: AsyncSession, dialogue_id: uuid.UUID) -> Outcome:
    """Queue the dialogue's analysis again, in the caller's transaction (the caller
    commits when the outcome is `queued`)."""
    if await db.get(Dialogue, dialogue_id) is None:
        return "no_dialogue"
    state = await jobs.requeue(db, ANALYSIS, dialogue_id)
    if state is None:
        return "not_analysed"
    return "queued" if state == "queued" else "running"

"""What a pipeline run leaves in the database, without what differs between two
runs of the same day by design (row ids, device ids, wall-clock stamps, how many
attempts a job took): two runs are equal exactly when their snapshots are."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import Analysis, AudioChunk, Dialogue, Job, SpeechSegment, Transcript


async def snapshot(database_url: str) -> dict[str, Any]:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as s:
            dialogues = list(await s.scalars(select(Dialogue).order_by(Dialogue.started_at)))
            start = {d.id: d.started_at for d in dialogues}
            segments = list(await s.scalars(select(SpeechSegment)))
            transcripts = list(await s.scalars(select(Transcript)))
            analyses = list(await s.scalars(select(Analysis)))
            chunks = list(await s.scalars(select(AudioChunk).order_by(AudioChunk.started_at)))
            jobs = list(await s.scalars(select(Job)))
    finally:
        await engine.dispose()
    return {
        "chunks": [(c.started_at, c.ended_at, c.sha256, c.state) for c in chunks],
        "dialogues": [
            (d.started_at, d.ended_at, d.state, d.closed_reason, round(d.speech_s, 3))
            for d in dialogues
        ],
        "segments": sorted(
            (g.started_at, g.ended_at, start[g.dialogue_id] if g.dialogue_id else None)
            for g in segments
        ),
        "transcripts": sorted(
            (start[t.dialogue_id], t.text, t.language, t.model, t.passes) for t in transcripts
        ),
        "analyses": sorted(
            (
                start[a.dialogue_id],
                a.run,
                a.current,
                a.status,
                a.attempted,
                a.quality,
                tuple(a.categories),
                a.customer_reaction,
                tuple(a.evidence),
                a.prompt_version,
            )
            for a in analyses
        ),
        "jobs": sorted(Counter((j.kind, j.state) for j in jobs).items()),
    }

"""SalesControl's speech pipeline on a synthesized shop day: how fast each stage is
and how long after a dialogue ends its analysis is there.

    .venv/bin/python -m bench.pipeline [--pace 1.0]

The day is ../shared/salescontrol/dialogues_dev.yaml synthesized by
tests.support.shopday (10 dialogues, ~6 min of audio in 60 s opus chunks).

- VAD real-time factor: decoding a chunk and WebRTC VAD, in this process, over the
  day's chunks (wall time / audio seconds).
- End to end: the whole system as in production (`salescontrol serve`, the
  embedded PostgreSQL, one VAD, one ASR and one analysis worker with production
  settings, the judge played by the Ollama stub, which answers at once). Each chunk
  is uploaded when it would have ended, at `--pace` times real time (1.0: the day
  takes its own six minutes). The delay of a dialogue is from the end of its last
  word to its analysis being stored; it includes waiting for the chunk that shows
  12 s of silence after it (so up to a minute by design), and excludes the LLM's
  own time (not measured here: the stub answers at once) and the recorder's (a
  chunk is sent ~0.3 s after it ends).
- The word error rate of the transcripts against the script.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from bench.harness import cleanup, print_result, summary, tmpdir
from core.settings import load_settings
from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import Analysis, Dialogue, Transcript
from salescontrol.pipeline.audio import decode_pcm
from salescontrol.pipeline.vad import find_speech
from tests.salescontrol.e2e.lab import Lab
from tests.salescontrol.pg import Cluster
from tests.support import SHARED
from tests.support.shopday import ShopDay, build_shop_day, missing_tools
from tests.support.wer import corpus_wer

SCRIPT = SHARED / "salescontrol" / "dialogues_dev.yaml"


async def vad_rtf(day: ShopDay) -> dict[str, float]:
    cfg = load_settings().salescontrol.speech.vad
    began = time.perf_counter()
    for chunk in day.chunks:
        find_speech(await decode_pcm(chunk.path), cfg)
    wall = time.perf_counter() - began
    audio = sum(c.duration_s for c in day.chunks)
    return {"audio_s": round(audio, 1), "wall_s": round(wall, 3), "rtf": round(wall / audio, 4)}


async def upload_paced(lab: Lab, day: ShopDay, pace: float, t0: float) -> None:
    assert lab.server is not None
    async with httpx.AsyncClient(base_url=lab.server.url, timeout=60) as http:
        for chunk in day.chunks:
            due = t0 + (chunk.end - day.start).total_seconds() / pace
            await asyncio.sleep(max(0.0, due - time.time()))
            body = chunk.path.read_bytes()
            response = await http.put(
                f"/api/v1/devices/me/chunks/{uuid.uuid4()}",
                content=body,
                headers={
                    "Authorization": f"Bearer {lab.token}",
                    "X-Chunk-Start": chunk.start.isoformat(),
                    "X-Chunk-Sha256": hashlib.sha256(body).hexdigest(),
                },
            )
            response.raise_for_status()


async def end_to_end(day: ShopDay, pace: float, root: Path) -> dict[str, object]:
    cluster = await asyncio.to_thread(Cluster, root / "pg")
    try:
        url = await cluster.fresh_database()
        lab = Lab(url, root, fast=False)
        try:
            await lab.start()
            for kind in ("vad", "asr", "analysis"):
                lab.spawn(kind)
            t0 = time.time() + 1
            await upload_paced(lab, day, pace, t0)
            deadline = time.monotonic() + 600
            while await lab.pending() or await _unanalysed(url):
                if time.monotonic() > deadline:
                    raise TimeoutError("the pipeline did not finish")
                await asyncio.sleep(0.5)
        finally:
            await lab.stop()
        return await _delays(url, day, pace, t0)
    finally:
        cluster.stop()


async def _rows(url: str) -> tuple[list[Dialogue], dict[uuid.UUID, datetime], list[str]]:
    engine = make_engine(url, pool_size=1)
    try:
        async with session_factory(engine)() as s:
            dialogues = list(await s.scalars(select(Dialogue).order_by(Dialogue.started_at)))
            analysed = dict(
                (await s.execute(select(Analysis.dialogue_id, Analysis.created_at))).tuples().all()
            )
            texts = dict(
                (await s.execute(select(Transcript.dialogue_id, Transcript.text))).tuples().all()
            )
    finally:
        await engine.dispose()
    return dialogues, analysed, [texts.get(d.id, "") for d in dialogues]


async def _unanalysed(url: str) -> int:
    dialogues, analysed, _ = await _rows(url)
    return sum(1 for d in dialogues if d.id not in analysed)


async def _delays(url: str, day: ShopDay, pace: float, t0: float) -> dict[str, object]:
    dialogues, analysed, texts = await _rows(url)
    delays = []
    for truth in day.dialogues:
        said_end = t0 + (truth.end - day.start).total_seconds() / pace
        found = [d for d in dialogues if abs((d.started_at - truth.start).total_seconds()) < 1]
        if found and found[0].id in analysed:
            delays.append(analysed[found[0].id].timestamp() - said_end)
    errors = corpus_wer([(t.reference_text, x) for t, x in zip(day.dialogues, texts, strict=False)])
    return {
        "dialogues": {"script": len(day.dialogues), "found": len(dialogues)},
        "delay_s": summary(delays),
        "wer": round(errors.rate, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pace", type=float, default=1.0, help="times real time")
    args = parser.parse_args()
    if missing := missing_tools():
        raise SystemExit(f"missing to synthesize speech: {', '.join(missing)}")
    day = build_shop_day(SCRIPT)
    root = tmpdir("bench-pipeline-")
    try:
        result = {
            "vad": asyncio.run(vad_rtf(day)),
            "end_to_end": asyncio.run(end_to_end(day, args.pace, root)),
            "pace": args.pace,
        }
    finally:
        cleanup(root)
    print_result("SalesControl pipeline", result)


if __name__ == "__main__":
    main()

"""A synthesized shop day through the whole of SalesControl — the recorder agent,
the ingest API, the VAD, ASR and analysis workers as real processes on the embedded
PostgreSQL, Whisper base, the judge played by the Ollama stub — compared with the
script it was made from; then the same day again while workers are killed with
SIGKILL at random and a chunk is uploaded twice: the database ends the same."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from salescontrol.pipeline.analysis.schema import occurs
from tests.salescontrol.e2e.lab import Lab
from tests.salescontrol.e2e.snapshot import snapshot
from tests.salescontrol.pg import Cluster
from tests.support.shopday import ShopDay
from tests.support.wer import corpus_wer

pytestmark = pytest.mark.slow

BOUNDARY_S = 1.0
# Whisper base on festival's voice: 0.217 on this day by `python -m bench.pipeline`
# (2 cores AMD EPYC, Debian 12; where the errors come from: tests.support.shopday);
# the target of 0.15 is not reached with this voice and model. This bound catches a
# regression of the pipeline's own making (cut-off speech, lost pieces, hallucinated
# tails) with room for Whisper's errors shifting by a few words on other hardware.
WER_GUARD = 0.30


async def clean_run(url: str, root: Path, day: ShopDay) -> dict[str, Any]:
    lab = Lab(url, root)
    try:
        await lab.start()
        await lab.feed(day)
        await lab.run_until_idle()
    finally:
        await lab.stop()
    return await snapshot(url)


@pytest.fixture(scope="module")
def clean(cluster: Cluster, day: ShopDay, tmp_path_factory: pytest.TempPathFactory) -> Any:
    async def run() -> dict[str, Any]:
        url = await cluster.fresh_database()
        return await clean_run(url, tmp_path_factory.mktemp("clean"), day)

    return asyncio.run(run())


def test_the_dialogues_found_are_the_scripts(clean: dict[str, Any], day: ShopDay) -> None:
    found = clean["dialogues"]
    assert len(found) == len(day.dialogues), found
    assert sum(t.crosses_boundary for t in day.dialogues) >= 2  # borders are crossed
    for (start, end, state, reason, _), truth in zip(found, day.dialogues, strict=True):
        assert state == "closed" and reason == "silence", truth.id
        assert abs((start - truth.start).total_seconds()) <= BOUNDARY_S, truth.id
        assert abs((end - truth.end).total_seconds()) <= BOUNDARY_S, truth.id
    # Every segment belongs to one dialogue, inside it; no segment twice.
    segments = clean["segments"]
    assert len(set(segments)) == len(segments)
    spans = {d[0]: d for d in found}
    for start, end, dialogue in segments:
        assert dialogue in spans and spans[dialogue][0] <= start < end <= spans[dialogue][1]
    assert all(state == "processed" for *_, state in clean["chunks"])
    assert len(clean["chunks"]) == len(day.chunks)


def test_the_transcripts_are_close_to_the_script(
    clean: dict[str, Any], day: ShopDay, record_property: Any
) -> None:
    texts = [t[1] for t in clean["transcripts"]]
    assert len(texts) == len(day.dialogues)
    errors = corpus_wer(
        [(t.reference_text, text) for t, text in zip(day.dialogues, texts, strict=True)]
    )
    record_property("wer", round(errors.rate, 3))
    print(f"\nWER of Whisper base on the shop day: {errors.rate:.3f} ({errors})")
    assert errors.rate <= WER_GUARD


def test_every_dialogue_has_one_current_analysis_quoting_its_transcript(
    clean: dict[str, Any],
) -> None:
    texts = {t[0]: t[1] for t in clean["transcripts"]}
    current = [a for a in clean["analyses"] if a[2]]
    assert sorted(a[0] for a in current) == sorted(texts)
    for started, _run, _current, status, *_rest, evidence, version in current:
        assert status == "done" and version.startswith("v1-")
        assert evidence and all(occurs(quote, texts[started]) for quote in evidence)
    assert {state for (_, state), _ in clean["jobs"]} == {"done"}


async def test_killing_workers_and_uploading_twice_changes_nothing(
    cluster: Cluster, day: ShopDay, tmp_path: Path, clean: dict[str, Any]
) -> None:
    url = await cluster.fresh_database()
    lab = Lab(url, tmp_path)
    rng = random.Random(20261204)
    killed: list[tuple[str, bool]] = []  # (kind, whether it held a job's lease)
    sent = tmp_path / "spool" / "sent"
    again: list[int] = []
    try:
        await lab.start()
        crew = {kind: [lab.spawn(kind) for _ in range(n)]
                for kind, n in (("vad", 2), ("asr", 2), ("analysis", 1))}  # fmt: skip
        feeding = asyncio.create_task(lab.feed(day))
        deadline = time.monotonic() + 600
        while not feeding.done() or await lab.pending():
            assert time.monotonic() < deadline, "the pipeline did not finish under chaos"
            await asyncio.sleep(rng.uniform(0.5, 2.5))
            # The first chunk sent again while the day is being processed, as a
            # recorder does when the answer to its upload was lost.
            if not again and (first := sorted(sent.glob("*.json"))):
                again.append((await asyncio.to_thread(lab.upload_again, first[0])).status_code)
            if len(killed) < 12 and await lab.pending():
                # Every kind first, then at random; a worker holding a lease when
                # there is one, so that its job has to be taken over.
                spared = sorted(set(crew) - {kind for kind, _ in killed})
                kind = rng.choice(spared or sorted(crew))
                holders = await lab.lease_holders()
                busy = [i for i, p in enumerate(crew[kind]) if p.pid in holders]
                victim = rng.choice(busy) if busy else rng.randrange(len(crew[kind]))
                lab.kill(crew[kind][victim])
                crew[kind][victim] = lab.spawn(kind)
                killed.append((kind, bool(busy)))
        await feeding
        # And a chunk sent again once everything is done.
        last = sorted(sent.glob("*.json"))[-1]
        again.append((await asyncio.to_thread(lab.upload_again, last)).status_code)
        await asyncio.sleep(1)
        assert not await lab.pending()
        taken_over = await lab.taken_over()
    finally:
        await lab.stop()
    assert again == [200, 200], "a chunk sent again is recognized, not stored twice"
    assert {kind for kind, _ in killed} == {"vad", "asr", "analysis"}
    assert any(busy for _, busy in killed) and taken_over >= 1, (killed, taken_over)
    chaos = await snapshot(url)
    assert chaos == clean
    assert timedelta(0) < chaos["dialogues"][0][1] - chaos["dialogues"][0][0]

"""Transcription speed of the bundled Whisper base model (int8, CPU) on a shop day.

    .venv/bin/python -m bench.asr [--threads 0] [--beam 5] [--speech-share 0.3]

The speech is the scripted coffee-shop dialogues of ../shared/salescontrol/
dialogues_dev.yaml, synthesized twice as shop days by tests.support.shopday
(festival's Russian voice for one speaker, the same voice a major third higher by
sox for the other; the second day swaps them): 20 dialogues, ~200 s of speech,
cut into 60 s opus chunks. Each dialogue goes through `transcribe_dialogue` as the
ASR worker runs it (decode the chunks, cut the padded speech pieces, Whisper,
masking); its pieces are the turns, as an ideal VAD would give them.

Figures: the model's assembly (a fresh directory) and load times, resident memory,
the real-time factor RTF = transcription wall time / seconds of speech, the word
error rate against the script, and how many registers one ASR worker on this
machine keeps up with. A register open `--hours` a day with `--speech-share` of
that time flagged as speech by the VAD needs hours × 3600 × share × RTF seconds of
ASR a day, so one worker serves hours × 3600 / (that) = 1 / (share × RTF) registers.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

from bench.harness import cleanup, print_result, rss_mb, tmpdir
from core.settings import load_settings
from core.settings.speech import AsrSettings
from salescontrol.pipeline.asr.model import load_model, prepare_model
from salescontrol.pipeline.asr.transcribe import transcribe_dialogue
from salescontrol.pipeline.messages import DialogueSpeech, SpeechPiece
from tests.support import SHARED
from tests.support.shopday import (
    CUSTOMER,
    SELLER,
    DayParams,
    DialogueTruth,
    ShopDay,
    build_shop_day,
    missing_tools,
)
from tests.support.wer import corpus_wer

SCRIPT = SHARED / "salescontrol" / "dialogues_dev.yaml"
# As the ASR worker primes Whisper for a coffee shop (settings.yaml businesses).
PROMPT = load_settings().salescontrol.businesses["coffee_shop"].asr_prompt()
SHARES = (0.1, 0.2, 0.3, 0.5)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dialogue_speech(day: ShopDay, dialogue: DialogueTruth, ids: list[uuid.UUID]) -> DialogueSpeech:
    """The dialogue's turns as speech pieces of the chunks they fall in."""
    pieces = []
    for turn in dialogue.turns:
        for chunk in day.chunks:
            low, high = max(turn.start, chunk.start), min(turn.end, chunk.end)
            if low < high:
                pieces.append(
                    SpeechPiece(
                        chunk_id=ids[chunk.index],
                        chunk_started_at=chunk.start,
                        start_s=(low - chunk.start) / timedelta(seconds=1),
                        end_s=(high - chunk.start) / timedelta(seconds=1),
                    )
                )
    return DialogueSpeech(
        dialogue_id=uuid.uuid4(), started_at=dialogue.start, ended_at=dialogue.end, pieces=pieces
    )


async def transcribe_day(
    day: ShopDay, cfg: AsrSettings, model_dir: Path
) -> tuple[float, float, list[tuple[str, str]]]:
    """Wall time, seconds of speech, and (reference, transcript) of every dialogue."""
    ids = [uuid.uuid4() for _ in day.chunks]
    paths = {ids[c.index]: c.path for c in day.chunks}

    async def audio_of(chunk_id: uuid.UUID) -> Path:
        return paths[chunk_id]

    wall = speech_s = 0.0
    pairs = []
    for dialogue in day.dialogues:
        speech = dialogue_speech(day, dialogue, ids)
        began = time.perf_counter()
        result = await transcribe_dialogue(
            speech, audio_of, cfg, prompt=PROMPT, bundled_dir=model_dir
        )
        wall += time.perf_counter() - began
        speech_s += sum(p.end_s - p.start_s for p in speech.pieces)
        pairs.append((dialogue.reference_text, result.text))
    return wall, speech_s, pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=0, help="cpu_threads (0: CTranslate2's)")
    parser.add_argument("--beam", type=int, default=AsrSettings().beam_size)
    parser.add_argument("--hours", type=float, default=14.0, help="a register's day")
    parser.add_argument("--speech-share", type=float, default=0.3, help="share that is speech")
    args = parser.parse_args()
    if missing := missing_tools():
        raise SystemExit(f"missing to synthesize speech: {', '.join(missing)}")
    days = [
        build_shop_day(SCRIPT),
        build_shop_day(SCRIPT, DayParams(seller=CUSTOMER, customer=SELLER)),
    ]
    cfg = AsrSettings(cpu_threads=args.threads, beam_size=args.beam)
    tmp = tmpdir("bench-asr-")
    try:
        began = time.perf_counter()
        model_dir = prepare_model(tmp / "whisper-base")
        assemble_s = time.perf_counter() - began
        rss_before = rss_mb(os.getpid())
        began = time.perf_counter()
        load_model(cfg.model, cfg, model_dir)
        load_s = time.perf_counter() - began
        rss_loaded = rss_mb(os.getpid())
        # One dialogue first: the first call pays one-time set-up that no later job does.
        warm = dataclasses.replace(days[0], dialogues=days[0].dialogues[:1])
        asyncio.run(transcribe_day(warm, cfg, model_dir))
        wall = speech_s = 0.0
        pairs: list[tuple[str, str]] = []
        for day in days:
            w, s, p = asyncio.run(transcribe_day(day, cfg, model_dir))
            wall, speech_s, pairs = wall + w, speech_s + s, pairs + p
    finally:
        cleanup(tmp)
    rtf = wall / speech_s
    errors = corpus_wer(pairs)
    registers = {f"{share:.0%}": round(1 / (share * rtf), 1) for share in SHARES}
    result = {
        "model": "whisper-base int8",
        "cpu_threads": args.threads,
        "beam_size": args.beam,
        "dialogues": len(pairs),
        "speech_s": round(speech_s, 1),
        "transcription_s": round(wall, 1),
        "rtf": round(rtf, 3),
        "wer": round(errors.rate, 3),
        "assemble_s": round(assemble_s, 2),
        "load_s": round(load_s, 2),
        "rss_mb": {
            "before_load": round(rss_before),
            "loaded": round(rss_loaded),
            "after": round(rss_mb(os.getpid())),
            "peak": round(peak_rss_mb(os.getpid())),
        },
        "hours": args.hours,
        "speech_share": args.speech_share,
        "registers": round(1 / (args.speech_share * rtf), 1),
        "registers_by_share": registers,
    }
    print(f"{len(pairs)} dialogues, {speech_s:.0f} s of speech in {wall:.1f} s: RTF {rtf:.3f}")
    print(f"WER {errors.rate:.3f} ({errors.errors} errors / {errors.reference_words} words)")
    print(f"model: assembled in {assemble_s:.2f} s, loaded in {load_s:.2f} s")
    print(f"resident memory: {result['rss_mb']}")
    print(
        f"a {args.hours:g} h day with {args.speech_share:.0%} speech: "
        f"one worker keeps up with {result['registers']} registers; by share: {registers}"
    )
    print_result("bench.asr", result)


if __name__ == "__main__":
    main()

"""Where the word errors of the synthesized shop day come from, stage by stage.

    .venv/bin/python -m bench.asr_stages [--no-prompt]

Every turn of ../shared/salescontrol/dialogues_dev.yaml is said once by festival
(tests.support.shopday.voices, with its lexicon), trimmed and levelled as a shop
day does it, and raised by the customer's pitch shift where a stage asks for it.
Each dialogue's turns are laid APART_S apart into one file and handed to the ASR
worker's `transcribe_dialogue` as the dialogue's speech pieces (it keeps `pad_s`
around each and lays them GAP_S apart), with production settings, Whisper base
(the bundled model) and the coffee shop's prompt. The stages add one thing at a
time:

- seller: clean speech, every turn in the seller's voice;
- customer: clean speech, every turn in the customer's voice;
- voices: the two voices as a day has them, over the day and the day with the
  voices swapped (as bench.asr does), with errors attributed to each voice;
- noise: the turns laid into room noise (pink, -50 dBFS) 0.8 s apart, and cut;
- opus: that noisy audio encoded and decoded as the recorder's chunks are;
- long: as opus, with LONG dialogues back to back as one (a queue at the counter
  without a 12 s pause), so that Whisper decodes more than one 30 s window.

The last stage of all, the cut from a real day's chunks, is bench.asr's WER.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jiwer
import numpy as np

from bench.harness import print_result
from core.settings import load_settings
from core.settings.speech import AsrSettings
from salescontrol.pipeline.asr.transcribe import transcribe_dialogue
from salescontrol.pipeline.messages import DialogueSpeech, SpeechPiece
from tests.support import SHARED
from tests.support.shopday import CUSTOMER, SELLER, DayParams, missing_tools
from tests.support.shopday.chunks import encode
from tests.support.shopday.mix import pink_noise, set_level, to_pcm16, trim
from tests.support.shopday.script import read_script
from tests.support.shopday.voices import SAMPLE_RATE, synthesize
from tests.support.wer import normalize

SCRIPT = SHARED / "salescontrol" / "dialogues_dev.yaml"
APART_S = 0.8
"""Room noise between two turns in the noisy stages."""
STAGES = ("seller", "customer", "voices", "noise", "opus", "long")
LONG = 3
"""Dialogues back to back in the `long` stage: 37-46 s of audio, over one 30 s
window of Whisper."""
T0 = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)


@dataclass
class Tally:
    errors: dict[str, int] = field(default_factory=dict)
    words: dict[str, int] = field(default_factory=dict)

    def add(self, reference: str, hypothesis: str, owners: Sequence[str]) -> None:
        """Word errors of one dialogue, each charged to the voice of its reference
        word (an insertion to the word before it)."""
        for who in owners:
            self.words[who] = self.words.get(who, 0) + 1
        charged: list[str] = []
        if not hypothesis:
            charged = list(owners)
        else:
            for chunk in jiwer.process_words(reference, hypothesis).alignments[0]:
                if chunk.type in ("substitute", "delete"):
                    charged += owners[chunk.ref_start_idx : chunk.ref_end_idx]
                elif chunk.type == "insert":
                    at = min(max(chunk.ref_start_idx - 1, 0), len(owners) - 1)
                    charged += [owners[at]] * (chunk.hyp_end_idx - chunk.hyp_start_idx)
        for who in charged:
            self.errors[who] = self.errors.get(who, 0) + 1

    def rate(self, who: str | None = None) -> float:
        keys = [who] if who else list(self.words)
        words = sum(self.words.get(k, 0) for k in keys)
        return sum(self.errors.get(k, 0) for k in keys) / words if words else 0.0


def room(
    turns: Sequence[np.ndarray], stage: str, seed: int
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The turns APART_S apart, in digital silence or (noise, opus) in room noise,
    and where each turn is (seconds)."""
    apart = round(APART_S * SAMPLE_RATE)
    total = sum(len(t) for t in turns) + apart * (len(turns) + 1)
    audio = (
        pink_noise(total, seed, DayParams().noise_dbfs, SAMPLE_RATE)
        if stage in ("noise", "opus", "long")
        else np.zeros(total, dtype=np.float32)
    )
    spans = []
    at = apart
    for turn in turns:
        audio[at : at + len(turn)] += turn
        spans.append((at / SAMPLE_RATE, (at + len(turn)) / SAMPLE_RATE))
        at += len(turn) + apart
    return audio, spans


def write(audio: np.ndarray, stage: str, folder: Path) -> Path:
    """A chunk file: Ogg Opus as the recorder writes it, or 16-bit WAV."""
    if stage in ("opus", "long"):
        path = folder / "chunk.opus"
        encode(audio, path, DayParams())
    else:
        path = folder / "chunk.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(to_pcm16(audio))
    return path


async def transcribe(
    path: Path, spans: list[tuple[float, float]], cfg: AsrSettings, prompt: str | None
) -> str:
    """The ASR worker's transcript of a dialogue whose speech pieces are the turns."""
    chunk_id = uuid.uuid4()
    pieces = [
        SpeechPiece(chunk_id=chunk_id, chunk_started_at=T0, start_s=start, end_s=end)
        for start, end in spans
    ]
    speech = DialogueSpeech(
        dialogue_id=uuid.uuid4(),
        started_at=T0 + timedelta(seconds=spans[0][0]),
        ended_at=T0 + timedelta(seconds=spans[-1][1]),
        pieces=pieces,
    )

    async def audio_of(_: uuid.UUID) -> Path:
        return path

    return (await transcribe_dialogue(speech, audio_of, cfg, prompt=prompt)).text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-prompt", action="store_true", help="Whisper without the prompt")
    args = parser.parse_args()
    if missing := missing_tools():
        raise SystemExit(f"missing to synthesize speech: {', '.join(missing)}")
    script = read_script(SCRIPT.read_bytes(), str(SCRIPT))
    turns = [(d, t) for d in script.dialogues for t in d.turns]
    voices = {"seller": SELLER, "customer": CUSTOMER}
    said = {
        who: [set_level(trim(a), DayParams().speech_dbfs) for a in synthesize(
            [(voice, t.text) for _, t in turns])]
        for who, voice in voices.items()
    }  # fmt: skip
    cfg = AsrSettings()
    business = load_settings().salescontrol.businesses[script.business]
    prompt = None if args.no_prompt else business.asr_prompt()
    result: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        tally = Tally()
        swaps = (False, True) if stage not in voices else (False,)
        size = LONG if stage == "long" else 1
        groups = [script.dialogues[k : k + size] for k in range(0, len(script.dialogues), size)]
        for swapped in swaps:
            for n, group in enumerate(groups):
                idx = [i for i, (d, _) in enumerate(turns) if any(d is g for g in group)]
                owners: list[str] = []
                audio: list[np.ndarray] = []
                for i in idx:
                    who = turns[i][1].who if stage not in voices else stage
                    if swapped:
                        who = "customer" if who == "seller" else "seller"
                    audio.append(said[who][i])
                    owners += [who] * len(normalize(turns[i][1].text).split())
                reference = normalize(" ".join(turns[i][1].text for i in idx))
                laid, spans = room(audio, stage, 7 + n)
                with tempfile.TemporaryDirectory(prefix="asr-stages-") as tmp:
                    path = write(laid, stage, Path(tmp))
                    heard = asyncio.run(transcribe(path, spans, cfg, prompt))
                tally.add(reference, normalize(heard), owners)
        row = {"wer": round(tally.rate(), 3), "words": sum(tally.words.values())}
        for who in sorted(tally.words):
            row[who] = round(tally.rate(who), 3)
        result[stage] = row
        print(f"{stage:9} {row}", flush=True)
    print_result("bench.asr_stages", {"prompt": prompt is not None, "stages": result})


if __name__ == "__main__":
    main()

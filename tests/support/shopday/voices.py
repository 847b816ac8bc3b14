"""Speech for each turn: festival's Russian voice, and a second voice for the customer.

The seller speaks with festival's `msu_ru_nsh_clunits` (Debian's festvox-ru), a
male unit-selection voice. The customer is the same voice raised by sox `pitch`
(+300 cents: a higher, clearly different speaker), or espeak-ng's Russian when
asked for. Measured with Whisper base on the dialogues of dialogues_dev.yaml as
the ASR worker lays them out (figures and command in the package docstring):
word error rate 0.207 for festival's voice, 0.196 for it raised by 300 cents and
1.47 for espeak-ng's formant voice (Whisper hears little of it and invents the
rest), so the customer's voice is festival's, pitched. Festival's lexicon gets
`LEXICON`'s entries for the counter's loanwords.

Festival takes the text as UTF-8 bytes (a KOI8-R file is refused). All turns are
said by one festival process, which loads the voice once: ~1 s for 40 turns, where
one `text2wave` per turn costs ~0.7 s each. Digits are spelled out first (the
voice reads them digit by digit), and characters it has no rule for (dashes,
quotes, signs) become pauses or spaces.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from tests.support.wer import spell_numbers

SAMPLE_RATE = 16000
FESTIVAL_VOICE = "voice_msu_ru_nsh_clunits"
_DASHES = re.compile(r"\s*[—–]\s*")
_UNSAYABLE = re.compile(r"[^\w\s.,!?;:'-]|_")
_SPACE_BEFORE_MARK = re.compile(r"\s+([.,!?;:])")
LEXICON = (
    # A careful speaker keeps the final о of капучино and эспрессо ("oo": the
    # voice's full о, which its vowel reduction leaves alone; plain "o" unstressed
    # becomes "а"), says эспрессо with a hard р and the stress on the second
    # syllable, and stresses круассан and тирамису on the last; festival's
    # letter-to-sound rules guess these loanwords otherwise (эспрессо on the first
    # syllable, тирамису with no stress at all).
    """("капучино" nil (((k a) 0) ((p u) 0) ((ch i) 1) ((n oo) 0)))""",
    """("эспрессо" nil (((e) 0) ((s p r e) 1) ((s oo) 0)))""",
    """("круассан" n (3))""",
    """("тирамису" n (4))""",
)
"""Festival lexicon entries for words of the counter that the voice's dictionary
lacks: (word nil syllables) gives the phones as they are, (word pos (n)) the
stressed syllable for the voice's own letter-to-sound rules. The reference text
stays the script's; only the pronunciation changes."""


class SynthesisError(RuntimeError):
    """A turn that a speech engine could not say."""


@dataclass(frozen=True)
class Voice:
    """How to make a speaker: an engine, then an optional sox pitch shift (cents)."""

    engine: Literal["festival", "espeak"] = "festival"
    pitch_cents: int = 0
    espeak_voice: str = "ru"


SELLER = Voice()
CUSTOMER = Voice(pitch_cents=300)


def speakable(text: str) -> str:
    """The text as the engines can say it: digits in words, no unknown signs."""
    text = _DASHES.sub(", ", spell_numbers(text))
    text = " ".join(_UNSAYABLE.sub(" ", text).split())
    return _SPACE_BEFORE_MARK.sub(r"\1", text)


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _festival(texts: Sequence[str], out: Path) -> list[Path]:
    wavs = [out / f"festival-{i:04d}.wav" for i in range(len(texts))]
    lines = [f"({FESTIVAL_VOICE})", *(f"(lex.add.entry '{entry})" for entry in LEXICON)]
    for text, wav in zip(texts, wavs, strict=True):
        lines.append(
            f"(utt.save.wave (utt.synth (Utterance Text {_scheme_string(text)}))"
            f" {_scheme_string(str(wav))} 'riff)"
        )
    script = out / "turns.scm"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = subprocess.run(["festival", "-b", str(script)], capture_output=True, text=True)
    missing = [i for i, wav in enumerate(wavs) if not wav.exists()]
    if run.returncode != 0 or missing:
        first = texts[missing[0]] if missing else "?"
        raise SynthesisError(
            f"festival failed (exit {run.returncode}) at {first!r}: {run.stderr.strip()[-500:]}"
        )
    return wavs


def _espeak(text: str, wav: Path, voice: str) -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
    return wav


def _pcm(wav: Path, pitch_cents: int) -> np.ndarray:
    """The file as float32 samples at SAMPLE_RATE, pitch-shifted if asked."""
    effects = ["pitch", str(pitch_cents)] if pitch_cents else []
    out = subprocess.run(
        ["sox", str(wav), "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1",
         "-r", str(SAMPLE_RATE), "-", *effects],
        capture_output=True, check=True,
    )  # fmt: skip
    return np.frombuffer(out.stdout, dtype=np.float32).copy()


def synthesize(turns: Sequence[tuple[Voice, str]]) -> list[np.ndarray]:
    """Raw speech of each (voice, text), in order, as float32 at SAMPLE_RATE."""
    texts = [speakable(text) for _, text in turns]
    with tempfile.TemporaryDirectory(prefix="shopday-tts-") as tmp:
        out = Path(tmp)
        festival_at = [i for i, (voice, _) in enumerate(turns) if voice.engine == "festival"]
        wavs: dict[int, Path] = {}
        if festival_at:
            said = _festival([texts[i] for i in festival_at], out)
            wavs.update(zip(festival_at, said, strict=True))
        for i, (voice, _) in enumerate(turns):
            if voice.engine == "espeak":
                wavs[i] = _espeak(texts[i], out / f"espeak-{i:04d}.wav", voice.espeak_voice)
        return [_pcm(wavs[i], voice.pitch_cents) for i, (voice, _) in enumerate(turns)]

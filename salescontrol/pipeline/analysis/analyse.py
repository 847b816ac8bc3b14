"""Judging one transcribed dialogue: too little speech is skipped with the reason;
otherwise one structured LLM call (and the client's one repair) gives the result.
An answer still invalid after the repair fails the job (`AnalysisFailed`), which the
queue retries later: nothing is made up in its place."""

from __future__ import annotations

import os
import re

from core.llm import LLM
from core.metrics import llm_metrics
from core.settings import AnalysisSettings, Business, Settings, SettingsError
from salescontrol.pipeline.analysis.prompts import PROMPT_VERSION, build_messages
from salescontrol.pipeline.analysis.schema import TRANSCRIPT, judgement_schema
from salescontrol.pipeline.messages import AnalysisResult, DialogueText

_WORD = re.compile(r"\w+")


class AnalysisFailed(RuntimeError):
    """The model's answer was invalid even after the repair."""


def skip_reason(dialogue: DialogueText, cfg: AnalysisSettings) -> str | None:
    """Why `dialogue` is too short to judge, or None."""
    words = len(_WORD.findall(dialogue.text))
    if words < cfg.min_words:
        return f"слов {words}, меньше {cfg.min_words}"
    if dialogue.speech_s < cfg.min_speech_s:
        return f"речи {dialogue.speech_s:.1f} с, меньше {cfg.min_speech_s:g} с"
    return None


async def analyse(
    dialogue: DialogueText,
    business: Business,
    llm: LLM,
    cfg: AnalysisSettings,
    model_name: str,
) -> AnalysisResult:
    """The analysis of `dialogue`; raises `AnalysisFailed` on an invalid answer and
    `core.llm.LLMUnavailable` when the model cannot be reached."""
    reason = skip_reason(dialogue, cfg)
    if reason is not None:
        return AnalysisResult(
            status="skipped", skip_reason=reason, model=model_name, prompt_version=PROMPT_VERSION
        )
    result = await llm.structured(
        build_messages(business, dialogue.text, cfg.max_evidence),
        judgement_schema(business, cfg.max_evidence),
        context={TRANSCRIPT: dialogue.text},
    )
    if result.value is None:
        raise AnalysisFailed(f"invalid answer after {result.calls} calls")
    return AnalysisResult(
        status="done",
        **result.value.model_dump(),
        model=model_name,
        prompt_version=PROMPT_VERSION,
    )


def build_llm(settings: Settings) -> tuple[LLM, str]:
    """The client that judges dialogues and its model's name: the analysis's own
    `llm` section (Ollama or an OpenAI-compatible endpoint) or the bot's."""
    cfg = settings.salescontrol.speech.analysis
    llm_cfg = cfg.llm or settings.llm
    metrics = llm_metrics("salescontrol")
    if cfg.provider == "ollama":
        return LLM(llm_cfg, metrics), llm_cfg.model
    key = os.environ.get(cfg.api_key_env, "")
    if not key:
        raise SettingsError(
            f"salescontrol.speech.analysis.api_key_env: {cfg.api_key_env} is not set "
            "(provider openai)"
        )
    try:
        from salescontrol.pipeline.analysis.openai_llm import OpenAILLM
    except ImportError:
        raise SettingsError(
            "salescontrol.speech.analysis.provider: openai needs the extra `openai` "
            "(pip install 'salesbot[openai]')"
        ) from None
    return OpenAILLM(llm_cfg, metrics, api_key=key), llm_cfg.model

"""The upsell analysis of a transcribed dialogue: one structured LLM call per
dialogue (Ollama, or an OpenAI-compatible endpoint), judged against the shop's
categories, with evidence quotes checked against the transcript."""

from salescontrol.pipeline.analysis.analyse import AnalysisFailed, analyse, build_llm
from salescontrol.pipeline.analysis.prompts import PROMPT_VERSION

__all__ = ["PROMPT_VERSION", "AnalysisFailed", "analyse", "build_llm"]

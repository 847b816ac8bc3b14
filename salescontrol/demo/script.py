"""Transcripts and judgements read from the shop day's script instead of made by
Whisper and the LLM (too slow for a demo, and the LLM may not be running).

A dialogue the cutter found is matched to the script's dialogue it overlaps most
(the copies of the day are shifted in time; a chunk's offset is known from its
bytes, which are those of a source chunk). The transcript is the script's turns
at their exact times, relative to the dialogue's start, in the ASR worker's
shape, with the model "script" so nobody takes it for recognition. The
judgement takes the script's labels; its evidence is the transcript's segments
where the seller makes the offer, so every quote occurs in the transcript.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.settings import Business
from salescontrol.demo.source import SourceDay, SourceDialogue, SourceTurn
from salescontrol.pipeline.asr.redact import redact_segments
from salescontrol.pipeline.messages import (
    AnalysisResult,
    DialogueSpeech,
    DialogueText,
    TranscriptResult,
    TranscriptSegment,
    Word,
)

SCRIPT_MODEL = "script"
DEMO_MODEL = "demo"
DEMO_PROMPT = "demo"
EARLIER_PROMPT = "demo-v0"
"""The prompt version of the earlier runs kept as history."""

_QUESTION = re.compile(r"[^.!?]*\?")
_REACTIONS = {
    "accepted": "гость согласился",
    "rejected": "гость отказался",
    "unclear": "реакция гостя неясна",
    "none": "гость никак не ответил",
}
_QUALITY = {
    1: "Предложение без конкретики.",
    2: "Конкретное предложение.",
    3: "Конкретное предложение с выгодой для гостя.",
}
_CONFIDENCE = {("yes", 3): 0.93, ("yes", 2): 0.86, ("yes", 1): 0.72, ("no", 0): 0.88}


@dataclass(frozen=True, slots=True)
class Span:
    started_at: datetime
    ended_at: datetime

    @property
    def seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    def at(self, instant: datetime) -> float:
        """Seconds from the start, inside the span."""
        return min(max((instant - self.started_at).total_seconds(), 0.0), self.seconds)


class ScriptIndex:
    """The script's dialogues at the times of the stored copies of the day."""

    def __init__(self, day: SourceDay, offsets: dict[uuid.UUID, timedelta]):
        self.day = day
        self.offsets = offsets
        """Chunk id → how much later than its source chunk it starts."""

    def truth(self, speech: DialogueSpeech) -> SourceDialogue | None:
        """The script's dialogue the cut dialogue overlaps most (None: none)."""
        span = Span(speech.started_at, speech.ended_at)
        best: tuple[float, SourceDialogue] | None = None
        shifts = {self.offsets[p.chunk_id] for p in speech.pieces if p.chunk_id in self.offsets}
        for shift in shifts:
            for dialogue in self.day.dialogues:
                moved = dialogue.shifted(shift)
                overlap = min(moved.end, span.ended_at) - max(moved.start, span.started_at)
                seconds = overlap.total_seconds()
                if seconds > 0 and (best is None or seconds > best[0]):
                    best = (seconds, moved)
        return None if best is None else best[1]


def _words(text: str, start_s: float, end_s: float) -> list[Word]:
    """The turn's words spread over it by their length (the script has no word
    times); written as Whisper writes them, each with its leading space."""
    words = text.split()
    total = sum(len(w) + 1 for w in words) or 1
    out, at = [], start_s
    for word in words:
        length = (end_s - start_s) * (len(word) + 1) / total
        out.append(Word(start_s=round(at, 3), end_s=round(at + length, 3),
                        word=f" {word}", probability=1.0))  # fmt: skip
        at += length
    return out


def transcript(truth: SourceDialogue | None, speech: DialogueSpeech) -> TranscriptResult:
    """The script's turns as the dialogue's transcript (empty without a match)."""
    span = Span(speech.started_at, speech.ended_at)
    segments = []
    for turn in truth.turns if truth is not None else ():
        start, end = span.at(turn.start), span.at(turn.end)
        if end <= start:
            continue
        segment = TranscriptSegment(start_s=round(start, 3), end_s=round(end, 3), text=turn.text,
                                    words=_words(turn.text, start, end))  # fmt: skip
        segments.append(segment)
    text, masked = redact_segments(segments)
    return TranscriptResult(
        text=text,
        segments=masked,
        language="ru",
        model=SCRIPT_MODEL,
    )


def offers(truth: SourceDialogue) -> list[SourceTurn]:
    """The seller's turns that offer more: the questions the seller asks once
    the guest has said what they want (a greeting's "Что для вас?" is none)."""
    if truth.labels.get("attempted") == "no":
        return []
    asked = next((i for i, t in enumerate(truth.turns) if t.who == "customer"), len(truth.turns))
    return [t for t in truth.turns[asked + 1 :] if t.who == "seller" and "?" in t.text]


def _evidence(
    truth: SourceDialogue, speech: DialogueSpeech, text: DialogueText, most: int
) -> list[str]:
    """The transcript's segments said during the offers (by time, so that this
    holds for Whisper's transcript too), each one occurring in its text."""
    span = Span(speech.started_at, speech.ended_at)
    quotes: list[str] = []
    for turn in offers(truth):
        start, end = span.at(turn.start), span.at(turn.end)
        for segment in text.segments:
            said = segment.text.strip()
            overlaps = segment.start_s < end and start < segment.end_s
            if overlaps and said and said in text.text and said not in quotes:
                quotes.append(said)
    return quotes[:most]


def _summary(labels: dict[str, Any], business: Business) -> str:
    attempted = labels.get("attempted")
    if attempted == "no":
        return "Продавец ничего не предложил сверх того, о чём просил гость."
    if attempted == "uncertain":
        return "Неясно, предлагал ли продавец что-то сверх заказа."
    categories = [str(c) for c in labels.get("categories") or []]
    what = ", ".join(business.categories.get(c, c) for c in categories) or "ещё что-то"
    reaction = _REACTIONS.get(str(labels.get("customer_reaction")), "")
    quality = _QUALITY.get(int(str(labels.get("quality", 0))), "")
    return f"Продавец предложил: {what} — {reaction}. {quality}".strip()


def judgement(
    truth: SourceDialogue,
    speech: DialogueSpeech,
    text: DialogueText,
    business: Business,
    max_evidence: int,
) -> AnalysisResult:
    """The script's labels as the dialogue's analysis."""
    labels = truth.labels
    attempted = str(labels["attempted"])
    quality = int(labels["quality"])
    asked = [q.strip() for turn in offers(truth)[:1] for q in _QUESTION.findall(turn.text)]
    return AnalysisResult(
        status="done",
        attempted=attempted,  # type: ignore[arg-type]
        quality=quality,
        categories=list(labels.get("categories") or []),
        closing_question=asked[-1] if asked else None,
        customer_reaction=labels["customer_reaction"],
        evidence=_evidence(truth, speech, text, max_evidence),
        summary=_summary(labels, business),
        confidence=_CONFIDENCE.get((attempted, quality), 0.6),
        model=DEMO_MODEL,
        prompt_version=DEMO_PROMPT,
    )


def earlier(current: AnalysisResult) -> AnalysisResult:
    """A plausible earlier run under an older prompt, less sure of the offer: what
    the history of re-runs shows next to the current one."""
    return current.model_copy(
        update={
            "attempted": "uncertain",
            "quality": max(0, (current.quality or 0) - 1),
            "customer_reaction": "unclear",
            "evidence": current.evidence[:1],
            "summary": "Продавец задал вопрос, но неясно, было ли это предложением.",
            "confidence": 0.41,
            "prompt_version": EARLIER_PROMPT,
        }
    )


def skipped(reason: str) -> AnalysisResult:
    return AnalysisResult(
        status="skipped", skip_reason=reason, model=DEMO_MODEL, prompt_version=DEMO_PROMPT
    )

"""What each kind of worker does with a job: the VAD worker finds a chunk's
speech, the ASR worker transcribes a closed dialogue, the analysis worker judges
it. The heavy parts (Whisper, the LLM client) are imported only by the workers
that use them, so a VAD worker needs neither."""

from __future__ import annotations

import asyncio
from typing import Any

from core.settings import Settings
from salescontrol import jobs
from salescontrol.pipeline.audio import decode_pcm
from salescontrol.pipeline.messages import ANALYSIS, ASR, VAD, JobResult, VadResult
from salescontrol.pipeline.vad import find_speech
from salescontrol.pipeline.worker.backend import Backend
from salescontrol.pipeline.worker.loop import Handler


class UnknownBusiness(LookupError):
    """A point's kind of shop is not in settings.yaml `salescontrol.businesses`."""


def vad_handler(backend: Backend, settings: Settings) -> Handler:
    cfg = settings.salescontrol.speech.vad

    async def handle(job: jobs.Claimed) -> JobResult:
        pcm = await decode_pcm(await backend.chunk_path(job.subject_id))
        # WebRTC VAD is C, but a minute of frames is still CPU work: off the loop.
        spans = await asyncio.to_thread(find_speech, pcm, cfg)
        return VadResult(spans=spans)

    return handle


def asr_handler(backend: Backend, settings: Settings) -> Handler:
    from salescontrol.pipeline.asr.transcribe import transcribe_dialogue

    sc = settings.salescontrol
    cfg = sc.speech.asr

    async def handle(job: jobs.Claimed) -> JobResult:
        speech = await backend.dialogue_speech(job.subject_id)
        business = sc.businesses.get(speech.business or "")
        prompt = business.asr_prompt() if business and cfg.shop_vocabulary else None
        return await transcribe_dialogue(speech, backend.chunk_path, cfg, prompt=prompt)

    return handle


def analysis_handler(backend: Backend, settings: Settings) -> Handler:
    from salescontrol.pipeline.analysis.analyse import analyse, build_llm

    llm, model_name = build_llm(settings)
    sc = settings.salescontrol

    async def handle(job: jobs.Claimed) -> JobResult:
        dialogue = await backend.dialogue_text(job.subject_id)
        business = sc.businesses.get(dialogue.business)
        if business is None:
            raise UnknownBusiness(f"business {dialogue.business!r} is not in settings.yaml")
        return await analyse(dialogue, business, llm, sc.speech.analysis, model_name)

    return handle


HANDLERS: dict[str, Any] = {VAD: vad_handler, ASR: asr_handler, ANALYSIS: analysis_handler}


def handler_for(kind: str, backend: Backend, settings: Settings) -> Handler:
    factory = HANDLERS[kind]
    handler: Handler = factory(backend, settings)
    return handler

"""The upsell analysis of a transcribed dialogue: one structured LLM call per
dialogue (Ollama, or an OpenAI-compatible endpoint), judged against the shop's
categories, with evidence quotes checked against the transcript.

The package imports none of its modules: the core checks every posted analysis
with `schema`'s rules (salescontrol.pipeline.outputs), and what imports that — a
VAD worker, the ingest API — should not load the LLM client (`analyse`)."""

"""The speech pipeline: voice activity in each chunk, dialogues cut per device
across chunks, Russian transcription, upsell analysis — each a kind of job that
workers take exactly once (salescontrol.jobs)."""

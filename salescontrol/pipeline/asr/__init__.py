"""Transcription of closed dialogues: the bundled Whisper base model (model), one
dialogue's speech pieces through faster-whisper in dialogue time (transcribe), and
spoken phone, card and IIN numbers masked in what is stored (redact)."""

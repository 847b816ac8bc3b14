"""The longest audio chunk SalesControl's server takes by default.

Both sides of the upload read it here: core.settings, as the default of the
server's `ingest.max_chunk_s`, and the recorder agent, which runs on a Pi without
the server's settings and refuses a longer `recording.chunk_s` when it starts
rather than record chunks that the server refuses for good (a 400, which parks
them in failed/). Importing nothing, it is safe for the Pi.
"""

from __future__ import annotations

MAX_CHUNK_S = 300
"""Seconds of audio in one chunk, by ffprobe, at most (the recorder cuts 60)."""

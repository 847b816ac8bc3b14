"""The longest and largest audio chunk SalesControl's server takes by default.

Both sides of the upload read them here: core.settings, as the defaults of the
server's `ingest.max_chunk_s` and `ingest.max_chunk_bytes`, and the recorder agent,
which runs on a Pi without the server's settings and refuses, when it starts, a
`recording.chunk_s` or `bitrate` that makes chunks the server refuses for good (a
400 or 413, which parks them in failed/). Importing nothing, it is safe for the Pi.
"""

from __future__ import annotations

MAX_CHUNK_S = 300
"""Seconds of audio in one chunk, by ffprobe, at most (the recorder cuts 60)."""
MAX_CHUNK_BYTES = 10 * 1024 * 1024
"""Bytes of one upload at most."""

"""The ffmpeg command line that records one run of chunks."""

from __future__ import annotations

from salescontrol.recorder.config import RecordingConfig

SEGMENT_PATTERN = "%010d.opus"
COMMON = ["-nostdin", "-hide_banner", "-nostats", "-loglevel", "warning"]


def list_name(start_seq: int) -> str:
    return f"run-{start_seq:010d}.csv"


def input_args(rec: RecordingConfig) -> list[str]:
    source = rec.parsed_source
    if source.kind == "alsa":
        # Opened in the target format: a plughw:/default device converts in ALSA.
        return [
            "-f", "alsa", "-channels", str(rec.channels), "-sample_rate", str(rec.sample_rate),
            "-i", source.value,
        ]  # fmt: skip
    if source.kind == "file":
        # Played at its own pace and looped: a stand-in for a microphone.
        return ["-re", "-stream_loop", "-1", "-i", source.value]
    return ["-re", "-f", "lavfi", "-i", source.value]


def output_args(rec: RecordingConfig, start_seq: int) -> list[str]:
    """Opus in Ogg, cut on the clock; run in the recording folder, since the
    segment list names the files relative to the working directory."""
    return [
        "-map", "0:a:0", "-ac", str(rec.channels), "-ar", str(rec.sample_rate),
        "-c:a", "libopus", "-b:a", rec.bitrate,
        "-f", "segment",
        "-segment_format", "opus",
        # Each Ogg page reaches the file when it is made (about one a second):
        # without it a segment stays empty until it is closed, and a crash of
        # ffmpeg loses the whole segment instead of its last second.
        "-segment_format_options", "flush_packets=1",
        "-segment_time", str(rec.chunk_s),
        "-segment_atclocktime", "1",
        "-reset_timestamps", "1",
        "-segment_list", list_name(start_seq),
        "-segment_list_type", "csv",
        "-segment_start_number", str(start_seq),
        SEGMENT_PATTERN,
    ]  # fmt: skip


def ffmpeg_command(rec: RecordingConfig, start_seq: int, ffmpeg: str = "ffmpeg") -> list[str]:
    return [ffmpeg, *COMMON, *input_args(rec), *output_args(rec, start_seq)]

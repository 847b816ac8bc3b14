"""Levels and the room: trimming each turn to its speech, setting its loudness,
and the quiet background noise laid under the whole day.

A turn is cut to its first and last sample louder than `TRIM_DB` below its peak,
so the ground truth's "first/last speech sample" is a sample of the audio, not
an estimate. Festival's own lead-in and tail sit near -75 dB, far below that.

The background is pink noise (power falling as 1/f, like a room's hum and
murmur more than white hiss), made by shaping a seeded white spectrum, at
`noise_dbfs` RMS: with the default -50 dBFS under speech at -20 dBFS RMS, gaps
stay clearly silent to a VAD while the audio is never digital zero.
"""

from __future__ import annotations

import numpy as np

TRIM_DB = -45.0
PEAK_LIMIT = 0.97
LOW_HZ = 50.0


def dbfs(level: float) -> float:
    """An amplitude (RMS) for a level in dB relative to full scale."""
    return float(10 ** (level / 20))


def trim(speech: np.ndarray) -> np.ndarray:
    """The span from the first to the last sample above TRIM_DB of the peak."""
    magnitude = np.abs(speech)
    peak = float(magnitude.max(initial=0.0))
    if peak == 0.0:
        raise ValueError("the synthesized turn is silent")
    loud = np.flatnonzero(magnitude > peak * dbfs(TRIM_DB))
    return speech[loud[0] : loud[-1] + 1]


def set_level(speech: np.ndarray, rms_dbfs: float) -> np.ndarray:
    """Scaled to the RMS level, but never with a peak above PEAK_LIMIT."""
    rms = float(np.sqrt(np.mean(np.square(speech, dtype=np.float64))))
    gain = dbfs(rms_dbfs) / rms
    peak = float(np.abs(speech).max())
    gain = min(gain, PEAK_LIMIT / peak)
    return (speech * gain).astype(np.float32)


def pink_noise(samples: int, seed: int, rms_dbfs: float, sample_rate: int) -> np.ndarray:
    """Seeded pink noise at the RMS level, float32, nothing below LOW_HZ (pink
    noise has as much power per octave below 50 Hz as above: inaudible rumble
    that a microphone's high-pass filter would take out anyway)."""
    # A power-of-two transform, cut to length: an odd length can take seconds.
    size = 1 << max(1, (samples - 1).bit_length())
    rng = np.random.default_rng(seed)
    spectrum = rng.standard_normal(size // 2 + 1) + 1j * rng.standard_normal(size // 2 + 1)
    bins = np.arange(spectrum.size, dtype=np.float64)
    bins[0] = 1.0
    spectrum /= np.sqrt(bins)
    spectrum[: max(1, round(LOW_HZ * size / sample_rate))] = 0.0
    noise = np.fft.irfft(spectrum, n=size)[:samples]
    noise *= dbfs(rms_dbfs) / float(np.sqrt(np.mean(np.square(noise))))
    return noise.astype(np.float32)


def to_pcm16(audio: np.ndarray) -> bytes:
    """Little-endian signed 16-bit samples, clipped to full scale."""
    scaled = np.clip(np.round(audio * 32767.0), -32768, 32767)
    return scaled.astype("<i2").tobytes()


def from_pcm16(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32767.0

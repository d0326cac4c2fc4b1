"""Synthesise ``office.ogg``, the ambient office loop, from a fixed seed.

Every part is built on a circle of exactly ``SECONDS`` (noise shaped in the frequency domain,
tones with a whole number of cycles, clicks placed modulo the length), so the clip loops
without a seam. Parts: ventilation rumble and mains hum, room tone, a murmur of distant talkers
(speech-band noise under syllable and phrase envelopes), and bursts of keyboard typing.

    python audio/make_office.py            # rewrites audio/office.ogg
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

RATE = 24000
SECONDS = 30
SEED = 20260522
TARGET_DBFS = -30.0
"""RMS of the finished loop: clearly there at volume 1, well under a voice."""
QUALITY = 0.25
"""Vorbis compression level (0 = best quality, 1 = smallest)."""

Signal = npt.NDArray[np.float64]
Shape = Callable[[Signal], Signal]


def _rms(x: Signal) -> float:
    return float(np.sqrt(np.mean(x**2)))


def _db(level: float) -> float:
    return float(10 ** (level / 20))


def shaped_noise(rng: np.random.Generator, n: int, rate: float, shape: Shape) -> Signal:
    """Circular noise of length ``n`` whose amplitude spectrum follows ``shape(freqs)``; RMS 1."""
    freqs = np.fft.rfftfreq(n, 1 / rate).astype(np.float64)
    spectrum = rng.normal(size=freqs.size) + 1j * rng.normal(size=freqs.size)
    x = np.fft.irfft(spectrum * shape(freqs), n)
    return x / _rms(x)


def band(low: float, high: float, slope: float = 0.0) -> Shape:
    """A smooth band-pass between ``low`` and ``high`` Hz, tilted by ``slope`` (1 = pink)."""

    def shape(f: Signal) -> Signal:
        f = np.maximum(f, 1.0)
        return (1 / (1 + (low / f) ** 4)) / (1 + (f / high) ** 4) / f ** (slope / 2)

    return shape


def ventilation(rng: np.random.Generator, n: int) -> Signal:
    """Air-handling rumble with a faint 60 Hz hum and its harmonics."""
    air = shaped_noise(rng, n, RATE, band(60, 500, slope=1.0))
    t = np.arange(n) / RATE
    hum = sum(a * np.sin(2 * np.pi * 60 * k * t + k) for k, a in enumerate((1, 0.5, 0.25), 1))
    wobble = 1 + 0.1 * shaped_noise(rng, n, RATE, band(0.05, 0.3))
    return air * wobble + 0.25 * hum


def murmur(rng: np.random.Generator, n: int, talkers: int = 4) -> Signal:
    """Distant voices: speech-band noise under syllable-rate and phrase-rate envelopes."""
    out = np.zeros(n)
    for _ in range(talkers):
        formants = shaped_noise(rng, n, RATE, band(250, 1800, slope=0.5))
        syllables = np.maximum(shaped_noise(rng, n, RATE, band(2.5, 6)), 0)
        phrases = 1 / (1 + np.exp(-3 * shaped_noise(rng, n, RATE, band(0.1, 0.5))))
        out += formants * syllables * phrases * rng.uniform(0.5, 1.0)
    return out / _rms(out)


def keyboard(rng: np.random.Generator, n: int) -> Signal:
    """Bouts of typing: each key a sharp tick plus a short low thock, at uneven intervals."""
    out = np.zeros(n)
    length = int(0.03 * RATE)
    t = np.arange(length) / RATE
    start = rng.uniform(0, 3)
    while start < SECONDS:
        key = start
        for _ in range(int(rng.integers(8, 30))):
            tick = rng.normal(size=length) * np.exp(-t / 0.0015)
            thock = np.sin(2 * np.pi * rng.uniform(900, 1600) * t) * np.exp(-t / 0.006)
            click = (np.diff(tick, prepend=0) + 0.6 * thock) * rng.uniform(0.3, 1.0)
            at = int(key * RATE) + np.arange(length)
            np.add.at(out, at % n, click)
            key += rng.gamma(4, 0.04)
        start = key + rng.uniform(2, 7)
    peak = float(np.abs(out).max())
    return out / peak


def office(seed: int = SEED) -> npt.NDArray[np.float32]:
    """The whole loop, RMS at ``TARGET_DBFS``."""
    rng = np.random.default_rng(seed)
    n = RATE * SECONDS
    room_tone = shaped_noise(rng, n, RATE, band(30, 6000, slope=1.0))
    mix = (
        _db(-8) * ventilation(rng, n)
        + _db(-14) * room_tone
        + _db(-10) * murmur(rng, n)
        + _db(-5) * keyboard(rng, n)
    )
    mix *= _db(TARGET_DBFS) / _rms(mix)
    return mix.astype(np.float32)


DEFAULT_PATH = Path(__file__).with_name("office.ogg")


def main(path: Path = DEFAULT_PATH) -> None:
    """Write the loop to ``path`` as mono OGG Vorbis."""
    soundfile.write(
        str(path), office(), RATE, format="OGG", subtype="VORBIS", compression_level=QUALITY
    )
    print(f"{path}: {SECONDS} s at {RATE} Hz, {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH)

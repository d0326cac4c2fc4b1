"""Sound clips decoded once per process, as loop-safe mono float32 at the output rate.

Decoding and resampling cost a tenth of a second or more per clip, so each (file, rate) is
done once and kept for every later call of the process; the arrays are read-only and shared.
A call asks for its clips with ``LoopedClip``: a clip already in the cache is ready at once;
otherwise it is decoded in the loop's default executor (never on the event loop) and the
layers stay silent until it is ready. ``load_loop`` warms the cache ahead of calls.
"""

from __future__ import annotations

import asyncio
import threading
from importlib.resources import files
from pathlib import PurePosixPath

import numpy as np
import numpy.typing as npt
import soundfile
from livekit import rtc
from livekit.agents.voice.background_audio import BuiltinAudioClip

from ..log import logger

Samples = npt.NDArray[np.float32]

CROSSFADE_SECONDS = 0.25
"""Length of the equal-power crossfade that joins a clip's end to its start."""

_cache: dict[tuple[str, int], Samples] = {}
_lock = threading.Lock()


def background_path(name: str) -> str:
    """The file of a ``background_sound`` value (``"audio/office.ogg"``), shipped in the package."""
    return str(files("agent_runtime.audio") / PurePosixPath(name).name)


def thinking_path(name: str) -> str:
    """The file of a ``thinking_sound`` value: one of livekit-agents' built-in clips."""
    return BuiltinAudioClip(name).path()


def decode(path: str, sample_rate: int) -> Samples:
    """Decode ``path`` to mono float32 at ``sample_rate`` (channels averaged)."""
    data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono: Samples = data.mean(axis=1, dtype=np.float32)
    if rate == sample_rate or not mono.size:
        return mono
    pcm = (np.clip(mono, -1.0, 1.0) * 32767.0).astype(np.int16)
    resampler = rtc.AudioResampler(
        rate, sample_rate, num_channels=1, quality=rtc.AudioResamplerQuality.HIGH
    )
    frames = resampler.push(rtc.AudioFrame(pcm.tobytes(), rate, 1, pcm.size))
    frames += resampler.flush()
    out = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])
    return out.astype(np.float32) / np.float32(32768.0)


def make_loop(samples: Samples, sample_rate: int) -> Samples:
    """Make ``samples`` loop without a click: the tail is crossfaded into the head.

    The result is shorter by the crossfade; played end to start, every join is continuous and
    the level holds (equal-power fade for uncorrelated sound such as ambience).
    """
    fade = min(int(CROSSFADE_SECONDS * sample_rate), samples.size // 4)
    if fade < 1:
        return samples.copy()
    phase = (np.arange(fade, dtype=np.float32) + 0.5) / fade * np.float32(np.pi / 2)
    out = samples[: samples.size - fade].copy()
    out[:fade] = samples[:fade] * np.sin(phase) + samples[samples.size - fade :] * np.cos(phase)
    return out


def load_loop(path: str, sample_rate: int) -> Samples:
    """The loop-safe clip of ``path`` at ``sample_rate``, decoded on the first request only."""
    key = (path, sample_rate)
    with _lock:
        cached = _cache.get(key)
        if cached is None:
            cached = make_loop(decode(path, sample_rate), sample_rate)
            cached.flags.writeable = False
            _cache[key] = cached
    return cached


def cached_loop(path: str, sample_rate: int) -> Samples | None:
    """The clip if this process has already decoded it, else None."""
    return _cache.get((path, sample_rate))


class LoopedClip:
    """A clip a call plays in a loop: ready at once when cached, else loaded off the loop."""

    def __init__(self, path: str, sample_rate: int) -> None:
        self._path = path
        self._samples = cached_loop(path, sample_rate)
        self._pending: asyncio.Future[Samples] | None = None
        if self._samples is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._samples = load_loop(path, sample_rate)
        else:
            self._pending = loop.run_in_executor(None, load_loop, path, sample_rate)

    @property
    def samples(self) -> Samples | None:
        """The clip, or None while it is still loading (a clip that failed is empty)."""
        pending = self._pending
        if self._samples is None and pending is not None and pending.done():
            self._pending = None
            if not pending.cancelled() and pending.exception() is None:
                self._samples = pending.result()
            else:
                logger.error("sound clip %s could not be loaded; it stays silent", self._path)
                self._samples = np.zeros(0, dtype=np.float32)
        return self._samples

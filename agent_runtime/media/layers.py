"""The sounds mixed under the agent's voice: the ambient loop and the thinking clip.

Both are ``OutputLayer``s of the call's output stream: each frame they add their next samples
into the mix with numpy slices (no per-sample Python work).
"""

from __future__ import annotations

import random

import numpy as np
import numpy.typing as npt

from .clip_cache import LoopedClip, Samples

FADE_SECONDS = 0.01
"""Fade applied when the thinking clip starts or stops (within the frame that changes)."""


def add_looped(mix: npt.NDArray[np.float32], clip: Samples, start: int, gain: float) -> int:
    """Add ``gain * clip[start:]`` into ``mix``, wrapping at the clip's end; return the new start.

    The loop runs once per wrap of the clip in the frame, not per sample.
    """
    filled = 0
    while filled < mix.size:
        take = min(mix.size - filled, clip.size - start)
        mix[filled : filled + take] += clip[start : start + take] * np.float32(gain)
        filled += take
        start = (start + take) % clip.size
    return start


class AmbientLayer:
    """An ambience looped under the whole call, at a fixed volume."""

    def __init__(self, clip: LoopedClip, volume: float) -> None:
        self._clip = clip
        self._volume = volume
        self._position = 0

    def render(self, mix: npt.NDArray[np.float32], voice_active: bool) -> None:
        """Add the next ``len(mix)`` samples of the loop, voice or not."""
        samples = self._clip.samples
        if samples is not None and samples.size:
            self._position = add_looped(mix, samples, self._position, self._volume)


class ThinkingLayer:
    """A clip played while the agent is processing, on the turns the dice allow.

    The session's state decides: the clip is heard while the agent is ``thinking`` (from the end
    of the caller's turn to the first audio, and while tools run) and the agent's voice is not
    playing; it fades out within the very frame the voice starts. Whether a turn gets the clip
    is drawn once per turn with ``probability``; within a turn the clip continues where it was
    (several tool steps do not restart it), and each new turn starts it from the top.
    """

    def __init__(
        self,
        clip: LoopedClip,
        volume: float,
        *,
        probability: float,
        rng: random.Random,
        sample_rate: int,
    ) -> None:
        self._clip = clip
        self._volume = volume
        self._probability = probability
        self._rng = rng
        self._position = 0
        self._turn_plays: bool | None = None
        self._thinking = False
        self._audible = False
        fade = max(1, int(FADE_SECONDS * sample_rate))
        self._fade_in = (np.arange(fade, dtype=np.float32) + 0.5) / np.float32(fade)
        self._fade_out = self._fade_in[::-1].copy()

    def new_turn(self) -> None:
        """The caller spoke: the next thinking interval draws again and starts from the top."""
        self._turn_plays = None

    @property
    def playing(self) -> bool:
        """True while the clip is being heard."""
        return self._audible

    def set_thinking(self, thinking: bool) -> None:
        """Follow the agent's state: True while it is ``thinking``."""
        if thinking and self._turn_plays is None:
            self._turn_plays = self._rng.random() < self._probability
            self._position = 0
        self._thinking = thinking and bool(self._turn_plays)

    def render(self, mix: npt.NDArray[np.float32], voice_active: bool) -> None:
        """Add the clip while thinking and silent; fade it in or out where that changes."""
        samples = self._clip.samples
        audible = self._thinking and not voice_active and samples is not None and samples.size > 0
        was_audible, self._audible = self._audible, audible
        if samples is None or not (audible or was_audible):
            return
        if audible and was_audible:
            self._position = add_looped(mix, samples, self._position, self._volume)
            return
        envelope = self._fade_in if audible else self._fade_out
        part = np.zeros(min(envelope.size, mix.size), dtype=np.float32)
        self._position = add_looped(part, samples, self._position, self._volume)
        part *= envelope[: part.size]
        mix[: part.size] += part
        if audible and mix.size > part.size:
            self._position = add_looped(mix[part.size :], samples, self._position, self._volume)

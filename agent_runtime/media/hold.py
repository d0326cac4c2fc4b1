"""Hold music: what the caller hears while the agent is away on a warm transfer.

A layer of the call's output stream, silent until ``start``: the framework's hold-music clip
(``BuiltinAudioClip.HOLD_MUSIC``, what its ``WarmTransferTask`` plays), looped at
``HOLD_VOLUME`` (about -23 dBFS, under a phone voice), from the top each time it starts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from livekit.agents.voice.background_audio import BuiltinAudioClip

from .clip_cache import LoopedClip
from .layers import add_looped

HOLD_VOLUME = 0.4
"""Gain of the clip (its own level is about -15 dBFS RMS): about -23 dBFS on the line."""


class HoldMusic:
    """An ``OutputLayer`` that loops the hold clip while the caller is on hold."""

    def __init__(self, sample_rate: int, *, volume: float = HOLD_VOLUME) -> None:
        self._clip = LoopedClip(BuiltinAudioClip.HOLD_MUSIC.path(), sample_rate)
        self._volume = volume
        self._position = 0
        self.playing = False

    def start(self) -> None:
        """Play the clip from its top, from the next frame on."""
        self._position = 0
        self.playing = True

    def stop(self) -> None:
        """Stop the clip from the next frame on."""
        self.playing = False

    def render(self, mix: npt.NDArray[np.float32], voice_active: bool) -> None:
        """Add the clip's next samples while on hold (the agent's voice is not then playing)."""
        samples = self._clip.samples
        if self.playing and samples is not None and samples.size:
            self._position = add_looped(mix, samples, self._position, self._volume)

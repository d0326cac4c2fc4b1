"""Hold music: what the caller hears while the agent is away on a warm transfer.

A layer of the call's output stream, silent until ``start``: the framework's hold-music clip
(``BuiltinAudioClip.HOLD_MUSIC``, what its ``WarmTransferTask`` plays), looped at
``HOLD_VOLUME`` (about -26 dBFS, a little under a phone voice), from the top each time it
starts. The clip's own two-second fade-in is skipped, so the caller hears music at once, never
a silence.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from livekit.agents.voice.background_audio import BuiltinAudioClip

from .clip_cache import LoopedClip
from .layers import add_looped

HOLD_VOLUME = 0.5
"""Gain of the clip (about -20 dBFS RMS past its fade-in): about -26 dBFS on the line."""
FADE_IN_SECONDS = 2.0
"""The clip's quiet opening, left out of the loop."""


class HoldMusic:
    """An ``OutputLayer`` that loops the hold clip while the caller is on hold."""

    def __init__(self, sample_rate: int, *, volume: float = HOLD_VOLUME) -> None:
        self._clip = LoopedClip(BuiltinAudioClip.HOLD_MUSIC.path(), sample_rate)
        self._skip = int(FADE_IN_SECONDS * sample_rate)
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
        if self.playing and samples is not None and samples.size > self._skip:
            body = samples[self._skip :]
            self._position = add_looped(mix, body, self._position, self._volume)

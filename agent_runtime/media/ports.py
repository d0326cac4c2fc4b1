"""The media port: the call's audio. Worker, console and replay each pass their own adapter.

The runner only knows these protocols, never which mode it is in.
"""

from __future__ import annotations

from typing import Protocol

from livekit import rtc
from livekit.agents.voice import io


class FrameSink(Protocol):
    """Where the paced output stream delivers what the caller hears, one frame at a time."""

    async def write(self, frame: rtc.AudioFrame) -> None:
        """Deliver one frame; may wait for the device or the network (back-pressure)."""
        ...

    async def wait_for_playout(self) -> None:
        """Return once every frame written so far has been played to the caller."""
        ...


class MediaPort(Protocol):
    """The call's audio: the caller's voice in, what the caller hears out."""

    @property
    def caller_audio(self) -> io.AudioInput:
        """The caller's audio frames, continuous (silence included) for as long as the call."""
        ...

    @property
    def sink(self) -> FrameSink:
        """Where the call's output stream goes."""
        ...

    @property
    def sample_rate(self) -> int:
        """Sample rate of the output stream."""
        ...

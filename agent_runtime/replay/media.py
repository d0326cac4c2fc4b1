"""The media port of a replayed call, and of its second party (a warm transfer's colleague).

The caller's recorded audio is played into the session in 20 ms frames at its real pace (on
the loop's clock, real or virtual), followed by silence; the caller hangs up at the recorded
time (``hung_up``). What the agent says goes to the call recording. The colleague's recorded
audio (``supervisor.wav``) is played the same way on their leg, from when it is first read;
what they hear is kept (``HeardSink``), for tests to compare with what the caller heard.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from livekit import rtc
from livekit.agents.voice import io

FRAME_SECONDS = 0.02


class RecordedAudio(Protocol):
    """Audio a replay plays in: its samples, their rate, and when its speaker hangs up."""

    @property
    def audio(self) -> npt.NDArray[np.int16]:
        """The mono samples."""
        ...

    @property
    def sample_rate(self) -> int:
        """Their rate."""
        ...

    @property
    def hangup_at(self) -> float:
        """Seconds from the start at which the speaker hangs up."""
        ...


@dataclass(frozen=True)
class PartyAudio:
    """A second party's recorded audio (``supervisor.wav``) and their hang-up time."""

    audio: npt.NDArray[np.int16]
    sample_rate: int
    hangup_at: float


class ReplayAudioInput(io.AudioInput):
    """The caller's side of the recorded call, paced in real time, then silence."""

    def __init__(self, recorded: RecordedAudio) -> None:
        super().__init__(label="ReplayAudioInput")
        self._audio = recorded.audio
        self._rate = recorded.sample_rate
        self._step = int(self._rate * FRAME_SECONDS)
        self._index = 0
        self._start: float | None = None
        self._hangup_at = recorded.hangup_at
        self.hung_up = asyncio.Event()
        self.started_at_wall: float | None = None
        self._waiting: list[tuple[float, asyncio.Future[None]]] = []

    @property
    def position(self) -> float:
        """Seconds of caller audio delivered so far."""
        return self._index * self._step / self._rate

    async def reached(self, seconds: float) -> None:
        """Return once ``seconds`` of caller audio have been delivered."""
        if self.position >= seconds:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append((seconds, waiter))
        try:
            await waiter
        finally:
            self._waiting = [(s, w) for s, w in self._waiting if w is not waiter]

    def _wake(self) -> None:
        for seconds, waiter in self._waiting:
            if self.position >= seconds and not waiter.done():
                waiter.set_result(None)

    async def __anext__(self) -> rtc.AudioFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
            self.started_at_wall = time.time()
        due = self._start + (self._index + 1) * FRAME_SECONDS
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        begin = self._index * self._step
        chunk = self._audio[begin : begin + self._step]
        samples = np.zeros(self._step, dtype=np.int16)
        samples[: chunk.size] = chunk
        self._index += 1
        self._wake()
        if self.position >= self._hangup_at:
            self.hung_up.set()
        return rtc.AudioFrame(samples.tobytes(), self._rate, 1, self._step)


class ReplaySink:
    """The output of a replayed call: nobody listens live; the recording keeps it."""

    async def write(self, frame: rtc.AudioFrame) -> None:
        """Accept a frame."""

    async def wait_for_playout(self) -> None:
        """Nothing is buffered."""


class HeardSink(ReplaySink):
    """A sink that keeps every frame with the wall time it was written at."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, rtc.AudioFrame]] = []

    async def write(self, frame: rtc.AudioFrame) -> None:
        """Keep the frame."""
        self.frames.append((time.time(), frame))


class ReplayMedia:
    """The ``MediaPort`` of a replayed call (or of its second party)."""

    def __init__(
        self,
        recorded: RecordedAudio,
        *,
        sample_rate: int = 24000,
        sink: ReplaySink | None = None,
    ) -> None:
        self._input = ReplayAudioInput(recorded)
        self._sink = sink or ReplaySink()
        self._rate = sample_rate

    @property
    def caller_audio(self) -> ReplayAudioInput:
        """The recorded caller audio."""
        return self._input

    @property
    def sink(self) -> ReplaySink:
        """Where the output stream goes."""
        return self._sink

    @property
    def sample_rate(self) -> int:
        """The output stream's rate."""
        return self._rate

    def playhead(self) -> float:
        """Seconds of caller audio played so far (what the replay STT follows)."""
        return self._input.position


class ReplayParty:
    """A second party of a replayed call (``RecordedParty``): their audio in, what they heard."""

    def __init__(self, recorded: RecordedAudio, *, sample_rate: int = 24000) -> None:
        self.heard = HeardSink()
        self._media = ReplayMedia(recorded, sample_rate=sample_rate, sink=self.heard)

    @property
    def media(self) -> ReplayMedia:
        """Their media port."""
        return self._media

    @property
    def hung_up(self) -> asyncio.Event:
        """Set once their audio reaches their hang-up time."""
        return self._media.caller_audio.hung_up

    def playhead(self) -> float:
        """Seconds of their audio played so far."""
        return self._media.playhead()

    async def reached(self, seconds: float) -> None:
        """Return once ``seconds`` of their audio have played."""
        await self._media.caller_audio.reached(seconds)

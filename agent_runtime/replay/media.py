"""The media port of a replayed call.

The caller's recorded audio is played into the session in 20 ms frames at its real pace (on
the loop's clock, real or virtual), followed by silence; the caller hangs up at the recorded
time (``hung_up``). What the agent says goes to the call recording.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
from livekit import rtc
from livekit.agents.voice import io

from .recorded_call import RecordedCall

FRAME_SECONDS = 0.02


class ReplayAudioInput(io.AudioInput):
    """The caller's side of the recorded call, paced in real time, then silence."""

    def __init__(self, recorded: RecordedCall) -> None:
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


class ReplayMedia:
    """The ``MediaPort`` of a replayed call."""

    def __init__(self, recorded: RecordedCall, *, sample_rate: int = 24000) -> None:
        self._input = ReplayAudioInput(recorded)
        self._sink = ReplaySink()
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

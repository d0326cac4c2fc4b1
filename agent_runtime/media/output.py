"""The call's one paced output stream: what the caller hears, frame by frame.

``CallAudioOutput`` is the session's audio sink. The agent's voice arrives faster than real
time and is queued; a pacer emits one frame every 20 ms, mixes the layers under the voice
(ambient and thinking sounds), limits the sum, and delivers the frame to the mode's sink. The
recording taps the same frames, so it holds exactly what the caller heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
from livekit import rtc
from livekit.agents.voice import io

from .limiter import soft_limit
from .ports import FrameSink
from .sample_queue import SampleQueue

FRAME_SECONDS = 0.02


class OutputLayer(Protocol):
    """A sound mixed under the voice (ambient, thinking...)."""

    def render(self, mix: npt.NDArray[np.float32], voice_active: bool) -> None:
        """Add this layer's next ``len(mix)`` samples into ``mix`` (floats in [-1, 1])."""
        ...


FrameTap = Callable[[rtc.AudioFrame], None]


@dataclass
class _Segment:
    queue: SampleQueue = field(default_factory=SampleQueue)
    played: int = 0
    flushed: bool = False
    started: bool = False
    cleared: bool = False


@dataclass
class OutputStats:
    """What the pacer did: frames emitted and frames that missed their deadline."""

    frames: int = 0
    late_frames: int = 0
    late_seconds: float = 0.0
    """How far behind its clock the pacer had fallen, summed over the late frames: each time
    it restarts its clock instead of catching up, the caller hears a gap this long."""
    longest_gap: float = 0.0
    """The longest of those gaps, in seconds."""
    voice_frames: int = 0


class CallAudioOutput(io.AudioOutput):
    """The session's audio sink and the call's paced output stream."""

    def __init__(
        self,
        sink: FrameSink,
        *,
        sample_rate: int,
        layers: Sequence[OutputLayer] = (),
        voice_gain: float = 1.0,
    ) -> None:
        super().__init__(
            label="CallAudioOutput",
            capabilities=io.AudioOutputCapabilities(pause=True),
            sample_rate=sample_rate,
        )
        self._sink = sink
        self._rate = sample_rate
        self._frame_samples = int(sample_rate * FRAME_SECONDS)
        self._layers = list(layers)
        self._voice_scale = np.float32(voice_gain / 32768.0)
        self._buffer = np.zeros(self._frame_samples, dtype=np.float32)
        self._silence = bytes(2 * self._frame_samples)
        self._segments: deque[_Segment] = deque()
        self._capturing: _Segment | None = None
        self._paused = False
        self._final = SampleQueue()
        self._final_done = asyncio.Event()
        self._aside = SampleQueue()
        self._locked = False
        self._last_words = False
        """True once a goodbye was played: the session's voice stays cut."""
        self._taps: list[FrameTap] = []
        self._task: asyncio.Task[None] | None = None
        self.stats = OutputStats()
        self.last_voice_at: float | None = None
        """Wall time at which the last frame carrying agent voice was emitted."""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the pacer (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._pace(), name="call-output-pacer")

    async def aclose(self) -> None:
        """Stop the pacer and finish any open segment (idempotent)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._drop_voice()

    def add_tap(self, tap: FrameTap) -> None:
        """Call ``tap`` with every frame the caller hears (e.g. the recorder)."""
        self._taps.append(tap)

    def add_layer(self, layer: OutputLayer) -> None:
        """Mix ``layer`` under the voice from the next frame on."""
        self._layers.append(layer)

    # -- io.AudioOutput ----------------------------------------------------------------------

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        """Queue voice audio; frames come faster than real time."""
        await super().capture_frame(frame)
        if self._capturing is None:
            self._capturing = _Segment(cleared=self._locked)
            self._segments.append(self._capturing)
        if self._capturing.cleared:
            return
        samples = np.frombuffer(frame.data, dtype=np.int16)
        if frame.num_channels > 1:
            samples = samples.reshape(-1, frame.num_channels)[:, 0]
        self._capturing.queue.push(samples.copy())
        # Voice arrives in bursts (a pre-rendered sentence, a TTS answer) and whatever the
        # session does per captured frame (the transcript synchroniser analyses each one)
        # would run as one block and hold the pacer back. Yielding between frames lets that
        # work interleave with the pacer's 20 ms ticks instead.
        await asyncio.sleep(0)

    def flush(self) -> None:
        """Mark the end of the segment being captured."""
        super().flush()
        segment, self._capturing = self._capturing, None
        if segment is None:
            return
        segment.flushed = True
        if segment.cleared or not len(segment.queue) and not segment.started:
            self._finish(segment, interrupted=segment.cleared)

    def clear_buffer(self) -> None:
        """Stop the voice now (an interruption); report how much of each segment played."""
        self._drop_voice()

    def pause(self) -> None:
        """Hold the voice (a possible false interruption); ambient layers keep playing."""
        super().pause()
        self._paused = True

    def resume(self) -> None:
        """Continue the voice where it was held."""
        super().resume()
        self._paused = False

    # -- the runner's own voice --------------------------------------------------------------

    async def play_final(
        self, frames: Iterable[rtc.AudioFrame], *, keep_locked: bool = True
    ) -> None:
        """Cut the session's voice and play ``frames`` to the end, uninterruptible.

        Used for the goodbye of max duration and end call, and the transfer line: nothing the
        session does (an interruption, a hung LLM or TTS) can stop or delay it. Returns once
        the last frame has been delivered. ``keep_locked``: the session's voice stays cut
        afterwards (a goodbye); else it may speak again (a transfer that failed).
        """
        self._last_words = self._last_words or keep_locked
        self._locked = True
        self._drop_voice()
        self._aside.clear()
        self._queue(frames, self._final)
        self._final_done.clear()
        if len(self._final):
            await self._final_done.wait()
        self._locked = self._last_words

    def play_aside(self, frames: Iterable[rtc.AudioFrame]) -> None:
        """Play ``frames`` while the session says nothing (a holding line).

        The session's voice, as soon as it comes, cuts them: they only fill a silence.
        """
        self._aside.clear()
        self._queue(frames, self._aside)

    # -- internals ---------------------------------------------------------------------------

    def _queue(self, frames: Iterable[rtc.AudioFrame], queue: SampleQueue) -> None:
        """Queue ``frames`` at the stream's rate."""
        resampler: rtc.AudioResampler | None = None
        for frame in frames:
            if frame.sample_rate != self._rate:
                resampler = resampler or rtc.AudioResampler(frame.sample_rate, self._rate)
                converted = resampler.push(frame)
            else:
                converted = [frame]
            for piece in converted:
                queue.push(np.frombuffer(piece.data, dtype=np.int16).copy())
        if resampler is not None:
            for piece in resampler.flush():
                queue.push(np.frombuffer(piece.data, dtype=np.int16).copy())

    def _finish(self, segment: _Segment, *, interrupted: bool) -> None:
        if segment in self._segments:
            self._segments.remove(segment)
        self.on_playback_finished(
            playback_position=segment.played / self._rate, interrupted=interrupted
        )

    def _drop_voice(self) -> None:
        for segment in list(self._segments):
            segment.queue.clear()
            if segment is self._capturing:
                segment.cleared = True
                continue
            self._finish(segment, interrupted=True)
        self._segments = deque(s for s in self._segments if s is self._capturing)

    def _next_voice(self, count: int) -> npt.NDArray[np.int16]:
        if len(self._final):
            samples = self._final.pull(count)
            if not len(self._final):
                self._final_done.set()
            return samples
        voice = self._session_voice(count)
        if voice.size:
            self._aside.clear()
            return voice
        return self._aside.pull(count) if len(self._aside) else voice

    def _session_voice(self, count: int) -> npt.NDArray[np.int16]:
        if self._paused or not self._segments or self._locked:
            return np.zeros(0, dtype=np.int16)
        segment = self._segments[0]
        if segment.cleared:
            return np.zeros(0, dtype=np.int16)
        samples = segment.queue.pull(count)
        if samples.size and not segment.started:
            segment.started = True
            self.on_playback_started(created_at=time.time())
        segment.played += int(samples.size)
        if segment.flushed and not len(segment.queue):
            self._finish(segment, interrupted=False)
        return samples

    def _mix(self, voice: npt.NDArray[np.int16]) -> rtc.AudioFrame:
        n = self._frame_samples
        if not voice.size and not self._layers:
            return rtc.AudioFrame(self._silence, self._rate, 1, n)  # nothing to mix
        mix = self._buffer  # reused: each step works in place, as few numpy calls as possible
        mix.fill(0.0)
        if voice.size:
            np.multiply(voice, self._voice_scale, out=mix[: voice.size], dtype=np.float32)
        for layer in self._layers:
            layer.render(mix, voice.size > 0)
        soft_limit(mix)
        mix *= np.float32(32767.0)
        return rtc.AudioFrame(mix.astype(np.int16).tobytes(), self._rate, 1, n)

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            voice = self._next_voice(self._frame_samples)
            frame = self._mix(voice)
            self.stats.frames += 1
            if voice.size:
                self.stats.voice_frames += 1
                self.last_voice_at = time.time() + voice.size / self._rate
            for tap in self._taps:
                tap(frame)
            await self._sink.write(frame)
            deadline += FRAME_SECONDS
            delay = deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -FRAME_SECONDS:
                self.stats.late_frames += 1
                self.stats.late_seconds -= delay
                self.stats.longest_gap = max(self.stats.longest_gap, -delay)
                deadline = loop.time()

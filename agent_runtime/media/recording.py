"""The call recording: a stereo WAV, caller on the left, what the caller heard on the right.

Both channels are placed on the call's timeline: each stream is anchored at the time its first
frame arrived and then laid end to end, with silence inserted where a stream paused (a gap
longer than 100 ms), so the two sides stay in step for the whole call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile
from livekit import rtc
from livekit.agents.voice import io

_GAP_SECONDS = 0.1
_BLOCK_SECONDS = 1.0
"""Audio at another rate is resampled in blocks of this length, not frame by frame."""


class _Track:
    def __init__(self, rate: int, origin: float) -> None:
        self._rate = rate
        self._origin = origin
        self._chunks: list[npt.NDArray[np.int16]] = []
        self._length = 0
        self._resampler: rtc.AudioResampler | None = None
        self._source_rate: int | None = None
        # frames at another rate wait here and are resampled a block at a time: one resampler
        # call per second of audio instead of one per 20 ms frame (the same samples result)
        self._pending: list[npt.NDArray[np.int16]] = []
        self._pending_size = 0

    def add(self, frame: rtc.AudioFrame, at: float) -> None:
        samples = np.frombuffer(frame.data, dtype=np.int16)
        if frame.num_channels > 1:
            samples = samples.reshape(-1, frame.num_channels)[:, 0]
        if frame.sample_rate != self._source_rate and self._pending:
            self._drain()
        expected = int(round((at - self._origin) * self._rate))
        if expected - self.queued_length > _GAP_SECONDS * self._rate:
            self._drain()
            self._append(np.zeros(expected - self._length, dtype=np.int16))
        if frame.sample_rate == self._rate:
            self._append(samples.copy())
            return
        if self._resampler is None or self._source_rate != frame.sample_rate:
            self._resampler = rtc.AudioResampler(frame.sample_rate, self._rate)
            self._source_rate = frame.sample_rate
        self._pending.append(samples.copy())
        self._pending_size += int(samples.size)
        if self._pending_size >= _BLOCK_SECONDS * frame.sample_rate:
            self._drain()

    @property
    def queued_length(self) -> int:
        """Samples so far at the track's rate, the ones awaiting resampling included."""
        if not self._pending_size or self._source_rate is None:
            return self._length
        return self._length + self._pending_size * self._rate // self._source_rate

    def _drain(self) -> None:
        if not self._pending or self._resampler is None or self._source_rate is None:
            return
        block = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending, self._pending_size = [], 0
        frame = rtc.AudioFrame(block.tobytes(), self._source_rate, 1, int(block.size))
        for piece in self._resampler.push(frame):
            self._append(np.frombuffer(piece.data, dtype=np.int16).copy())

    def _append(self, samples: npt.NDArray[np.int16]) -> None:
        self._chunks.append(samples)
        self._length += int(samples.size)

    def samples(self, length: int) -> npt.NDArray[np.int16]:
        self._drain()
        joined = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)
        out = np.zeros(length, dtype=np.int16)
        out[: min(length, joined.size)] = joined[:length]
        return out

    @property
    def length(self) -> int:
        self._drain()
        return self._length


class CallRecording:
    """Collects both sides of the call and writes them as one stereo WAV."""

    def __init__(self, sample_rate: int, *, origin: float | None = None) -> None:
        self.sample_rate = sample_rate
        self.origin = time.time() if origin is None else origin
        self._caller = _Track(sample_rate, self.origin)
        self._heard = _Track(sample_rate, self.origin)

    def caller(self, frame: rtc.AudioFrame) -> None:
        """Tap for the caller's audio."""
        self._caller.add(frame, time.time() - frame.duration)

    def heard(self, frame: rtc.AudioFrame) -> None:
        """Tap for what the caller hears."""
        self._heard.add(frame, time.time())

    def stereo(self) -> npt.NDArray[np.int16]:
        """The recording so far as an (n, 2) int16 array."""
        length = max(self._caller.length, self._heard.length)
        return np.stack([self._caller.samples(length), self._heard.samples(length)], axis=1)

    def write(self, path: Path) -> Path:
        """Write the recording as a 16-bit stereo WAV."""
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), self.stereo(), self.sample_rate, subtype="PCM_16")
        return path


class TappedAudioInput(io.AudioInput):
    """Passes the caller's audio on to the session.

    Each frame is shown to the recording and to the ``listeners`` (answering detection).
    """

    def __init__(
        self,
        source: io.AudioInput,
        recording: CallRecording,
        listeners: Sequence[Callable[[rtc.AudioFrame], None]] = (),
    ) -> None:
        super().__init__(label="TappedAudioInput", source=source)
        self._recording = recording
        self._listeners = tuple(listeners)

    async def __anext__(self) -> rtc.AudioFrame:
        frame = await super().__anext__()
        self._recording.caller(frame)
        for listener in self._listeners:
            listener(frame)
        return frame

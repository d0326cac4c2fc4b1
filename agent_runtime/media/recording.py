"""The call recording: a stereo WAV, caller on the left, what the caller heard on the right.

Both channels are placed on the call's timeline: each stream is anchored at the time its first
frame arrived and then laid end to end, with silence inserted where a stream paused (a gap
longer than 100 ms), so the two sides stay in step for the whole call.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile
from livekit import rtc
from livekit.agents.voice import io

_GAP_SECONDS = 0.1


class _Track:
    def __init__(self, rate: int, origin: float) -> None:
        self._rate = rate
        self._origin = origin
        self._chunks: list[npt.NDArray[np.int16]] = []
        self._length = 0
        self._resampler: rtc.AudioResampler | None = None
        self._source_rate: int | None = None

    def add(self, frame: rtc.AudioFrame, at: float) -> None:
        pieces = [frame]
        if frame.sample_rate != self._rate:
            if self._resampler is None or self._source_rate != frame.sample_rate:
                self._resampler = rtc.AudioResampler(frame.sample_rate, self._rate)
                self._source_rate = frame.sample_rate
            pieces = self._resampler.push(frame)
        expected = int(round((at - self._origin) * self._rate))
        if expected - self._length > _GAP_SECONDS * self._rate:
            self._append(np.zeros(expected - self._length, dtype=np.int16))
        for piece in pieces:
            samples = np.frombuffer(piece.data, dtype=np.int16)
            if piece.num_channels > 1:
                samples = samples.reshape(-1, piece.num_channels)[:, 0]
            self._append(samples.copy())

    def _append(self, samples: npt.NDArray[np.int16]) -> None:
        self._chunks.append(samples)
        self._length += int(samples.size)

    def samples(self, length: int) -> npt.NDArray[np.int16]:
        joined = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)
        out = np.zeros(length, dtype=np.int16)
        out[: min(length, joined.size)] = joined[:length]
        return out

    @property
    def length(self) -> int:
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
    """Passes the caller's audio on to the session, showing each frame to the recording."""

    def __init__(self, source: io.AudioInput, recording: CallRecording) -> None:
        super().__init__(label="TappedAudioInput", source=source)
        self._recording = recording

    async def __anext__(self) -> rtc.AudioFrame:
        frame = await super().__anext__()
        self._recording.caller(frame)
        return frame

"""The console's media: the local microphone and speaker, or typed text with no audio device.

Audio mode needs PortAudio (Debian/Ubuntu: ``apt install libportaudio2``; macOS: ``brew install
portaudio``). The caller hangs up with Ctrl-C (audio) or end of input, Ctrl-D (text).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from livekit import rtc
from livekit.agents.voice import io

from ..errors import AudioDeviceError

FRAME_SECONDS = 0.02
MAX_BACKLOG = 50
"""Frames (1 s) of microphone audio that may wait to be read (a stalled process catches up on
them); older ones are dropped."""
_HINT = "use --text to type instead, or see docs/console.md for the audio set-up"


class _QueuedInput(io.AudioInput):
    """Frames pushed from another thread, in order; silence when none came in time.

    Frames that came before the first read (while the call was being set up) are dropped: kept,
    they would delay everything the caller says by the set-up time. At most ``MAX_BACKLOG``
    frames wait to be read.
    """

    def __init__(self, sample_rate: int) -> None:
        super().__init__(label="ConsoleMicrophone")
        self._rate = sample_rate
        self._queue: asyncio.Queue[rtc.AudioFrame] = asyncio.Queue(maxsize=MAX_BACKLOG)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Set the loop frames are delivered to."""
        self._loop = loop

    def push_from_thread(self, samples: npt.NDArray[np.int16]) -> None:
        """Called by the audio thread with mono int16 samples."""
        if self._loop is None:
            return
        frame = rtc.AudioFrame(samples.tobytes(), self._rate, 1, samples.size)
        self._loop.call_soon_threadsafe(self._offer, frame)

    def _offer(self, frame: rtc.AudioFrame) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(frame)

    async def __anext__(self) -> rtc.AudioFrame:
        if not self._reading:
            self._reading = True
            while not self._queue.empty():
                self._queue.get_nowait()  # said before anyone listened
        try:
            return await asyncio.wait_for(self._queue.get(), FRAME_SECONDS * 5)
        except TimeoutError:
            silence = np.zeros(int(self._rate * FRAME_SECONDS), dtype=np.int16)
            return rtc.AudioFrame(silence.tobytes(), self._rate, 1, silence.size)


class _SpeakerSink:
    """Frames to a ring buffer read by the output device's callback."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._lock = threading.Lock()

    async def write(self, frame: rtc.AudioFrame) -> None:
        with self._lock:
            self._buffer += frame.data.cast("B")

    def read_into(self, out: npt.NDArray[np.int16]) -> None:
        """Fill ``out`` (mono int16) from the buffer; silence where it runs short."""
        wanted = out.size * 2
        with self._lock:
            chunk = bytes(self._buffer[:wanted])
            del self._buffer[:wanted]
        samples = np.frombuffer(chunk, dtype=np.int16)
        out[: samples.size] = samples
        out[samples.size :] = 0

    async def wait_for_playout(self) -> None:
        while True:
            with self._lock:
                if not self._buffer:
                    return
            await asyncio.sleep(FRAME_SECONDS)


class ConsoleAudioMedia:
    """The local microphone in, the local speaker out (through sounddevice / PortAudio)."""

    def __init__(self, *, sample_rate: int = 24000, input_rate: int = 16000) -> None:
        try:
            import sounddevice
        except OSError as err:  # the PortAudio library itself is missing
            raise AudioDeviceError(f"no audio: {err}; {_HINT}") from None
        self._rate = sample_rate
        self._input = _QueuedInput(input_rate)
        self._sink = _SpeakerSink()

        def on_input(data: Any, frames: int, time: Any, status: Any) -> None:
            self._input.push_from_thread(np.asarray(data[:, 0], dtype=np.int16).copy())

        def on_output(data: Any, frames: int, time: Any, status: Any) -> None:
            self._sink.read_into(data[:, 0])

        block = int(input_rate * FRAME_SECONDS)
        try:
            self._streams = [
                sounddevice.InputStream(
                    samplerate=input_rate,
                    channels=1,
                    dtype="int16",
                    blocksize=block,
                    callback=on_input,
                ),
                sounddevice.OutputStream(
                    samplerate=sample_rate,
                    channels=1,
                    dtype="int16",
                    blocksize=int(sample_rate * FRAME_SECONDS),
                    callback=on_output,
                ),
            ]
        except sounddevice.PortAudioError as err:
            raise AudioDeviceError(f"no usable audio device ({err}); {_HINT}") from None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Open the devices."""
        self._input.bind(loop)
        for stream in self._streams:
            stream.start()

    def close(self) -> None:
        """Close the devices."""
        for stream in self._streams:
            stream.stop()
            stream.close()

    @property
    def caller_audio(self) -> io.AudioInput:
        """The microphone."""
        return self._input

    @property
    def sink(self) -> _SpeakerSink:
        """The speaker."""
        return self._sink

    @property
    def sample_rate(self) -> int:
        """The output stream's rate."""
        return self._rate


class SpokenWords(io.TextOutput):
    """The agent's words printed as they are spoken: a row opens with its time, then grows.

    ``started`` counts the replies printed this way, so the console prints each reply once.
    """

    def __init__(self, write: Callable[[str], None], clock: Callable[[], float]) -> None:
        super().__init__(label="ConsoleWords", next_in_chain=None)
        self._write = write
        self._clock = clock
        self._open = False
        self._reply = False
        self.started = 0

    async def capture_text(self, text: str) -> None:
        """Print the words of the reply being spoken."""
        if not self._open:
            self._open = True
            self.started += 0 if self._reply else 1
            self._reply = True
            self._write(f"{self._clock():7.1f}s  agent   ")
            text = text.lstrip()
        self._write(text)

    def break_line(self) -> None:
        """End the row on screen (another row is printed); the reply may go on in a new one."""
        if self._open:
            self._open = False
            self._write("\n")

    def flush(self) -> None:
        """The reply is over: end its row."""
        self.break_line()
        self._reply = False


class _SilentInput(io.AudioInput):
    """A line with nothing on it (text mode: the caller types)."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__(label="ConsoleSilence")
        self._rate = sample_rate
        self._next: float | None = None

    async def __anext__(self) -> rtc.AudioFrame:
        loop = asyncio.get_running_loop()
        self._next = (self._next or loop.time()) + FRAME_SECONDS
        await asyncio.sleep(max(0.0, self._next - loop.time()))
        silence = np.zeros(int(self._rate * FRAME_SECONDS), dtype=np.int16)
        return rtc.AudioFrame(silence.tobytes(), self._rate, 1, silence.size)


class _NullSink:
    async def write(self, frame: rtc.AudioFrame) -> None:
        """Nobody listens: the recording keeps what would have been heard."""

    async def wait_for_playout(self) -> None:
        """Nothing is buffered."""


class TextMedia:
    """Text mode: no audio device; the agent's voice only goes to the recording."""

    def __init__(self, *, sample_rate: int = 24000) -> None:
        self._rate = sample_rate
        self._input = _SilentInput(16000)
        self._sink = _NullSink()

    @property
    def caller_audio(self) -> io.AudioInput:
        """Silence."""
        return self._input

    @property
    def sink(self) -> _NullSink:
        """Nowhere."""
        return self._sink

    @property
    def sample_rate(self) -> int:
        """The output stream's rate."""
        return self._rate

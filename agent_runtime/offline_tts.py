"""A text-to-speech plugin that needs no key and no network, for replay and the console.

It speaks with espeak-ng when it is installed, else with a deterministic synthetic voice (a
harmonic tone per syllable, shaped like speech). Either way the same text always gives the same
audio, so a replayed call is reproducible.
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import subprocess
from typing import Literal

import numpy as np
import numpy.typing as npt
import soundfile
from livekit.agents import tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from .config.voice import VoiceProfile

Engine = Literal["auto", "espeak", "synthetic"]

SAMPLE_RATE = 22050
_WORDS_PER_MINUTE = 175
_VOWELS = re.compile(r"[aeiouy]+", re.IGNORECASE)


def _syllables(word: str) -> int:
    return max(1, len(_VOWELS.findall(word)))


def synthetic_voice(text: str, *, speed: float = 1.0) -> npt.NDArray[np.int16]:
    """A speech-shaped signal for ``text``: one voiced burst per syllable, pauses at commas."""
    rate = SAMPLE_RATE
    syllable = 0.17 / speed
    pieces: list[npt.NDArray[np.float32]] = []
    for index, word in enumerate(text.split()):
        count = _syllables(word)
        duration = count * syllable
        t = np.arange(int(duration * rate), dtype=np.float32) / rate
        pitch = 120.0 + 15.0 * np.sin(2 * np.pi * 0.7 * (t + index * 0.3))
        phase = 2 * np.pi * np.cumsum(pitch) / rate
        harmonics = np.arange(1, 5, dtype=np.float32)[:, None]
        voiced = (np.sin(harmonics * phase) / harmonics).sum(axis=0).astype(np.float32)
        envelope = np.abs(np.sin(np.pi * count * t / duration)).astype(np.float32) ** 0.5
        pieces.append(0.25 * voiced * envelope)
        pause = 0.25 if word.endswith((",", ";", ":")) else 0.06
        pieces.append(np.zeros(int(pause / speed * rate), dtype=np.float32))
    if not pieces:
        return np.zeros(0, dtype=np.int16)
    return (np.concatenate(pieces) * 32767).astype(np.int16)


def espeak_voice(text: str, *, speed: float = 1.0, voice: str = "en-us") -> npt.NDArray[np.int16]:
    """``text`` spoken by espeak-ng, resampled to ``SAMPLE_RATE`` if needed."""
    words_per_minute = str(int(_WORDS_PER_MINUTE * speed))
    result = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", words_per_minute, "--stdout", text],
        capture_output=True,
        check=True,
        timeout=30,
    )
    data, rate = soundfile.read(io.BytesIO(result.stdout), dtype="int16")
    samples: npt.NDArray[np.int16] = np.asarray(data, dtype=np.int16)
    if rate != SAMPLE_RATE:
        positions = np.arange(int(samples.size * SAMPLE_RATE / rate)) * rate / SAMPLE_RATE
        samples = np.interp(positions, np.arange(samples.size), samples).astype(np.int16)
    return samples


def espeak_available() -> bool:
    """True when the ``espeak-ng`` program is on the PATH."""
    return shutil.which("espeak-ng") is not None


class OfflineTTS(tts.TTS):
    """A keyless, offline TTS (espeak-ng, or a synthetic voice when espeak-ng is missing)."""

    def __init__(
        self,
        *,
        engine: Engine = "auto",
        speed: float = 1.0,
        gain: float = 1.0,
        voice: str = "en-us",
    ):
        """``speed`` and ``gain`` make it sound as the call's provider would (``for_voice``)."""
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        if engine == "auto":
            engine = "espeak" if espeak_available() else "synthetic"
        self.engine: Engine = engine
        self._speed = speed
        self._gain = gain
        self._voice = voice

    @classmethod
    def for_voice(cls, voice: VoiceProfile, *, engine: Engine = "auto") -> OfflineTTS:
        """A stand-in for ``voice``: its speed, and its volume where its provider has one."""
        return cls(engine=engine, speed=voice.speed or 1.0, gain=voice.gain)

    @property
    def model(self) -> str:
        """The engine in use."""
        return self.engine

    @property
    def provider(self) -> str:
        """Always ``offline``."""
        return "offline"

    def render(self, text: str) -> npt.NDArray[np.int16]:
        """Speak ``text`` now (blocking)."""
        if self.engine == "espeak":
            samples = espeak_voice(text, speed=self._speed, voice=self._voice)
        else:
            samples = synthetic_voice(text, speed=self._speed)
        if self._gain == 1.0:
            return samples
        louder = np.clip(samples.astype(np.float32) * self._gain, -32768, 32767)
        result: npt.NDArray[np.int16] = louder.astype(np.int16)
        return result

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        """Synthesise ``text``."""
        return _OfflineStream(tts=self, input_text=text, conn_options=conn_options)


class _OfflineStream(tts.ChunkedStream):
    def __init__(self, *, tts: OfflineTTS, input_text: str, conn_options: APIConnectOptions):
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._engine = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        loop = asyncio.get_running_loop()
        samples = await loop.run_in_executor(None, self._engine.render, self._input_text)
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
            mime_type="audio/pcm",
        )
        output_emitter.push(samples.tobytes())
        output_emitter.flush()

"""Speech-to-text of a recorded call: its recorded transcripts, released as the audio plays.

A transcript is released once the caller audio has played up to the end of its speech plus
its recorded delay, and only if the stream actually received most of that speech (audio the
session discarded is not transcribed, as with a real provider).
"""

from __future__ import annotations

from collections.abc import Callable

from livekit.agents import stt
from livekit.agents.language import LanguageCode
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)
from livekit.agents.utils import AudioBuffer

from .recorded_call import Utterance

Playhead = Callable[[], float]
ENGLISH = LanguageCode("en")


class HeardAudio:
    """The stretches of caller audio a stream was given (gaps under 50 ms joined)."""

    def __init__(self) -> None:
        self._spans: list[list[float]] = []

    def add(self, start: float, end: float) -> None:
        """Note that the audio from ``start`` to ``end`` (playhead seconds) was given."""
        if self._spans and start <= self._spans[-1][1] + 0.05:
            self._spans[-1][1] = max(self._spans[-1][1], end)
        else:
            self._spans.append([start, end])

    def fraction(self, start: float, end: float) -> float:
        """How much of ``start``..``end`` was given, from 0 to 1."""
        covered = sum(max(0.0, min(b, end) - max(a, start)) for a, b in self._spans)
        return covered / max(end - start, 1e-6)


class ReplaySTT(stt.STT):
    """A streaming STT that plays back recorded transcripts against the caller's playhead."""

    def __init__(self, utterances: list[Utterance], playhead: Playhead) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=False))
        self._utterances = sorted(utterances, key=lambda u: u.end + u.delay)
        self._playhead = playhead

    @property
    def model(self) -> str:
        """Always ``recorded``."""
        return "recorded"

    @property
    def provider(self) -> str:
        """Always ``replay``."""
        return "replay"

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        raise NotImplementedError("the replay STT is streaming only")

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        """A stream that releases the recorded transcripts."""
        return _ReplayStream(self, list(self._utterances), self._playhead, conn_options)


class _ReplayStream(stt.RecognizeStream):
    def __init__(
        self,
        engine: ReplaySTT,
        pending: list[Utterance],
        playhead: Playhead,
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(stt=engine, conn_options=conn_options)
        self._pending = pending
        self._playhead = playhead
        self._heard = HeardAudio()

    async def _run(self) -> None:
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                continue
            position = self._playhead()
            self._heard.add(position - item.duration, position)
            while self._pending and self._pending[0].end + self._pending[0].delay <= position:
                utterance = self._pending.pop(0)
                if self._heard.fraction(utterance.start, utterance.end) < 0.5:
                    continue
                self._event_ch.send_nowait(
                    stt.SpeechEvent(
                        type=stt.SpeechEventType.FINAL_TRANSCRIPT,
                        alternatives=[stt.SpeechData(language=ENGLISH, text=utterance.text)],
                    )
                )

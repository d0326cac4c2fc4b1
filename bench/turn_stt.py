"""A stand-in for a streaming speech-to-text provider, timed against the caller's playhead.

It behaves as a streaming STT does on a phone line: the words of each stretch of speech arrive
as interim transcripts while they are spoken, ``interim_delay`` after each word ends, and the
stretch's final transcript ``final_delay`` after its speech ends (a provider's endpointing and
finalisation), not at once. A word's timing within its stretch is spread by syllables over the
stretch's known start and end. As with a real provider, audio the session did not send (it
discarded it) is not transcribed: a word or a stretch is released only if most of its audio
reached the stream.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from livekit.agents import stt
from livekit.agents.language import LanguageCode
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)
from livekit.agents.utils import AudioBuffer

Playhead = Callable[[], float]
ENGLISH = LanguageCode("en")
INTERIM_DELAY = 0.2
"""Default seconds from a word's end to its interim transcript."""
FINAL_DELAY = 0.3
"""Default seconds from a stretch's end of speech to its final transcript."""
_VOWELS = re.compile(r"[aeiouy]+", re.IGNORECASE)


@dataclass(frozen=True)
class Stretch:
    """Caller speech between pauses: seconds on the caller-audio clock, and its words."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Release:
    """A transcript the stand-in sends once the playhead reaches ``at``."""

    at: float
    final: bool
    text: str
    spoken_from: float
    spoken_to: float
    """The audio it transcribes."""


def _syllables(word: str) -> int:
    return max(1, len(_VOWELS.findall(word)))


def word_ends(stretch: Stretch) -> list[float]:
    """When each word of ``stretch`` ends, its duration spread by syllables."""
    words = stretch.text.split()
    weights = [_syllables(w) for w in words]
    total = sum(weights) or 1
    ends, done = [], 0
    for weight in weights:
        done += weight
        ends.append(stretch.start + (stretch.end - stretch.start) * done / total)
    return ends


def releases(
    stretches: Sequence[Stretch], *, interim_delay: float, final_delay: float
) -> list[Release]:
    """Every transcript of ``stretches``, in the order they are sent."""
    out: list[Release] = []
    for stretch in stretches:
        words = stretch.text.split()
        for count, end in enumerate(word_ends(stretch), start=1):
            if count < len(words):  # the last word comes with the final
                text = " ".join(words[:count])
                out.append(Release(end + interim_delay, False, text, stretch.start, end))
        out.append(
            Release(stretch.end + final_delay, True, stretch.text, stretch.start, stretch.end)
        )
    return sorted(out, key=lambda r: r.at)


class StreamingStandInSTT(stt.STT):
    """Interim words as spoken and a delayed final transcript, against ``playhead``."""

    def __init__(
        self,
        stretches: Sequence[Stretch],
        playhead: Playhead,
        *,
        interim_delay: float = INTERIM_DELAY,
        final_delay: float = FINAL_DELAY,
    ) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=True))
        self._releases = releases(stretches, interim_delay=interim_delay, final_delay=final_delay)
        self._playhead = playhead

    @property
    def model(self) -> str:
        """Always ``streaming-stand-in``."""
        return "streaming-stand-in"

    @property
    def provider(self) -> str:
        """Always ``bench``."""
        return "bench"

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        raise NotImplementedError("the stand-in STT is streaming only")

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        """A stream that sends the transcripts as the caller audio plays."""
        return _StandInStream(self, list(self._releases), self._playhead, conn_options)


class _StandInStream(stt.RecognizeStream):
    def __init__(
        self,
        engine: StreamingStandInSTT,
        pending: list[Release],
        playhead: Playhead,
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(stt=engine, conn_options=conn_options)
        self._pending = pending
        self._playhead = playhead
        self._heard: list[list[float]] = []

    def _hear(self, start: float, end: float) -> None:
        if self._heard and start <= self._heard[-1][1] + 0.05:
            self._heard[-1][1] = max(self._heard[-1][1], end)
        else:
            self._heard.append([start, end])

    def _heard_fraction(self, start: float, end: float) -> float:
        covered = sum(max(0.0, min(b, end) - max(a, start)) for a, b in self._heard)
        return covered / max(end - start, 1e-6)

    async def _run(self) -> None:
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                continue
            position = self._playhead()
            self._hear(position - item.duration, position)
            while self._pending and self._pending[0].at <= position:
                release = self._pending.pop(0)
                if self._heard_fraction(release.spoken_from, release.spoken_to) < 0.5:
                    continue
                kind = (
                    stt.SpeechEventType.FINAL_TRANSCRIPT
                    if release.final
                    else stt.SpeechEventType.INTERIM_TRANSCRIPT
                )
                self._event_ch.send_nowait(
                    stt.SpeechEvent(
                        type=kind,
                        alternatives=[stt.SpeechData(language=ENGLISH, text=release.text)],
                    )
                )

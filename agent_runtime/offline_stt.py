"""A speech-to-text stand-in that needs no key and no network, for the console's offline mode.

There is no offline speech recognition in the runtime: the stand-in hears *that* the caller
spoke, not what. Each stretch of speech the VAD cuts (the framework runs a non-streaming STT
behind the VAD) is transcribed as ``(speech, 1.4 s)``, so the call flow (greeting, turns,
interruptions, the end of a turn) can be tried with a microphone and no provider.
"""

from __future__ import annotations

from livekit import rtc
from livekit.agents import stt
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.utils import AudioBuffer

ENGLISH = LanguageCode("en")


def speech_placeholder(seconds: float) -> str:
    """The transcript of a stretch of speech that lasted ``seconds``."""
    return f"(speech, {seconds:.1f} s)"


class OfflineSTT(stt.STT):
    """Transcribes each stretch of speech as its length: ``(speech, 1.4 s)``."""

    def __init__(self) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))

    @property
    def model(self) -> str:
        """Always ``placeholder``."""
        return "placeholder"

    @property
    def provider(self) -> str:
        """Always ``offline``."""
        return "offline"

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = rtc.combine_audio_frames(buffer) if isinstance(buffer, list) else buffer
        text = speech_placeholder(frame.duration)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            alternatives=[stt.SpeechData(language=ENGLISH, text=text)],
        )

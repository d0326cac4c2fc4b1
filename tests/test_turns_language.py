"""v1-mini is read with the threshold of the caller's language, as the framework reads it
(its threshold is 0.36 in English, 0.245 in German, 0.20 in Dutch...)."""

from __future__ import annotations

import asyncio
import time

import pytest
import soundfile
from livekit import rtc
from livekit.agents import AgentSession, inference
from livekit.agents.language import LanguageCode
from livekit.agents.voice.events import UserInputTranscribedEvent

from agent_runtime.replay.clock import InlineExecutor, run_virtual
from agent_runtime.turns.context import TurnContext
from agent_runtime.turns.decision import Delays
from agent_runtime.turns.detector import PREDICTION_SILENCE, CallTurnDetector

from .test_turns_replay import BENCH_CALLS


def transcribed(text: str, language: str) -> UserInputTranscribedEvent:
    return UserInputTranscribedEvent(
        transcript=text, is_final=True, language=LanguageCode(language)
    )


def test_v1_mini_is_read_with_the_threshold_of_the_callers_language() -> None:
    async def main() -> list[float]:
        session: AgentSession = AgentSession()
        context = TurnContext()
        context.attach(session)
        stream = CallTurnDetector(
            inference.TurnDetector(version="v1-mini"), context, Delays()
        ).stream()
        try:
            thresholds = [await stream.model_threshold()]  # no language reported yet: English
            for event in (
                transcribed("Guten Tag, ich habe eine Frage.", "de"),
                transcribed("Ja.", "en"),  # too short to tell the language
                transcribed("Goedemiddag, ik heb een vraag.", "nl-NL"),
                transcribed("Dzień dobry, mam pytanie.", "pl"),  # v1-mini's default
            ):
                session.emit("user_input_transcribed", event)
                thresholds.append(await stream.model_threshold())
        finally:
            await stream.aclose()
            await session.aclose()
        return thresholds

    assert run_virtual(main) == [0.36, 0.245, 0.245, 0.2, 0.36]


PAUSE_END = 29.772
"""pauses_5: "Yes, that is right." ends here; on the 1.2 s before 0.2 s of the silence after
it, v1-mini's probability is about 0.29: sure in German (0.245), unsure in English (0.36)."""


def silence_waited(language: str) -> float:
    """Virtual seconds of silence after which the call's detector ends the turn, on that audio
    and a transcript the words leave to v1-mini ("ich habe eine Frage": no punctuation)."""
    audio, rate = soundfile.read(BENCH_CALLS / "pauses_5" / "caller.wav", dtype="int16")
    step = rate // 50

    async def main() -> float:
        asyncio.get_running_loop().set_default_executor(InlineExecutor())
        session: AgentSession = AgentSession()
        context = TurnContext()
        context.attach(session)
        detector = CallTurnDetector(inference.TurnDetector(version="v1-mini"), context, Delays())
        stream = detector.stream()
        try:
            session.emit("user_input_transcribed", transcribed("ich habe eine Frage", language))
            end = int((PAUSE_END + PREDICTION_SILENCE) * rate)
            for begin in range(end - 3 * rate, end, step):
                stream.push_audio(
                    rtc.AudioFrame(audio[begin : begin + step].tobytes(), rate, 1, step)
                )
            await asyncio.sleep(0.01)  # v1-mini's stream takes the audio in
            asked = time.time()
            event = await stream.predict()
            assert event.end_of_turn_probability == 1.0
            return time.time() - asked + PREDICTION_SILENCE
        finally:
            await stream.aclose()
            await session.aclose()

    waited: float = run_virtual(main)
    return waited


def test_a_pause_v1_mini_is_sure_of_in_german_is_answered_sooner_than_in_english() -> None:
    likely, unsure = Delays().likely_delay, Delays().unsure_delay
    assert silence_waited("de") == pytest.approx(likely, abs=0.01)
    assert silence_waited("en") == pytest.approx(unsure, abs=0.01)

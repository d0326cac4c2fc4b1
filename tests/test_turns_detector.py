"""The call's turn detector asks v1-mini only when its answer can change the wait."""

from __future__ import annotations

import asyncio
from typing import Any

import soundfile
from livekit import rtc
from livekit.agents import AgentSession, inference
from livekit.agents.inference.eot.base import _BaseStreamingTurnDetectorStream
from livekit.agents.language import LanguageCode
from livekit.agents.voice.events import UserInputTranscribedEvent

from agent_runtime.replay.clock import InlineExecutor, run_virtual
from agent_runtime.turns.context import TurnContext
from agent_runtime.turns.decision import Delays
from agent_runtime.turns.detector import PREDICTION_SILENCE, CallTurnDetector

from .test_turns_replay import BENCH_CALLS

PAUSE_END = 29.772
"""pauses_5: "Yes, that is right." ends here."""


class CountedV1Mini(inference.TurnDetector):
    """The offline v1-mini, counting the predictions asked of its streams."""

    def __init__(self) -> None:
        super().__init__(version="v1-mini")
        self.asked = 0

    def stream(self, **kwargs: Any) -> _BaseStreamingTurnDetectorStream:
        inner = super().stream(**kwargs)
        predict = inner.predict

        def counted() -> Any:
            self.asked += 1
            return predict()

        inner.predict = counted  # type: ignore[method-assign]
        return inner


def inferences(transcript: str) -> tuple[int, float]:
    """v1-mini predictions asked, and the probability reported, for a pause after
    ``transcript`` (on real caller audio, virtual clock)."""
    audio, rate = soundfile.read(BENCH_CALLS / "pauses_5" / "caller.wav", dtype="int16")
    step = rate // 50

    async def main() -> tuple[int, float]:
        asyncio.get_running_loop().set_default_executor(InlineExecutor())
        session: AgentSession = AgentSession()
        context = TurnContext()
        context.attach(session)
        model = CountedV1Mini()
        stream = CallTurnDetector(model, context, Delays()).stream()
        try:
            said = UserInputTranscribedEvent(
                transcript=transcript, is_final=True, language=LanguageCode("en")
            )
            session.emit("user_input_transcribed", said)
            end = int((PAUSE_END + PREDICTION_SILENCE) * rate)
            for begin in range(end - 3 * rate, end, step):
                stream.push_audio(
                    rtc.AudioFrame(audio[begin : begin + step].tobytes(), rate, 1, step)
                )
            await asyncio.sleep(0.01)  # v1-mini's stream takes the audio in
            event = await stream.predict()
            return model.asked, event.end_of_turn_probability
        finally:
            await stream.aclose()
            await session.aclose()

    result: tuple[int, float] = run_virtual(main)
    return result


def test_words_that_decide_alone_cost_no_v1_mini_inference() -> None:
    assert inferences("Where can I park when I arrive?") == (0, 1.0)  # complete
    assert inferences("My phone number is four one five,") == (0, 1.0)  # unfinished


def test_words_that_leave_it_open_ask_v1_mini() -> None:
    assert inferences("the form on your website") == (1, 1.0)  # no punctuation

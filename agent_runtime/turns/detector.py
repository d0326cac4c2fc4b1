"""The call's turn detector, the framework's way: a streaming turn detector wrapping v1-mini.

The framework asks its turn detector stream for a prediction once the caller has been silent
for 0.2 s, waits for it, and answers at the minimum endpointing delay when it is sure. This
stream runs v1-mini as before, then holds its prediction until the end-of-turn decision
(``decision.decide``: the words so far, what the agent asked, the caller's own pauses and
v1-mini's probability) says the silence has lasted long enough, re-deciding as new words
arrive; then it reports a sure end of turn, and the framework answers at once. A caller who
speaks again cancels the prediction, as with v1-mini alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from typing import Any

from livekit import rtc
from livekit.agents import APIConnectOptions, inference
from livekit.agents.language import LanguageCode
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS
from livekit.agents.voice.turn import TurnDetectionEvent, _StreamingTurnDetectorStream

from ..log import logger
from .context import TurnContext
from .decision import Delays, decide

PREDICTION_SILENCE = 0.2
"""Seconds of silence after which the framework asks for a prediction (its
``MIN_SILENCE_DURATION_MS``): the caller's speech ended that long before."""
SURE = 1.0
"""The probability reported once the wait is over."""
FLOOR_WAIT = 30.0
"""Longest uninterruptible speech a prediction waits for (then the framework gives up on it)."""
FLOOR_POLL = 0.1
"""Seconds between two looks at whether the uninterruptible speech is over."""
DEFAULT_THRESHOLD = 0.5
"""v1-mini's threshold should it give none for a language."""


class CallTurnDetector:
    """A ``_StreamingTurnDetector`` deciding with everything the call knows."""

    def __init__(self, inner: inference.TurnDetector, context: TurnContext, delays: Delays) -> None:
        self._inner = inner
        self._context = context
        self._delays = delays

    @property
    def model(self) -> str:
        """The audio model underneath."""
        return str(self._inner.model)

    @property
    def provider(self) -> str:
        """Where the audio model runs."""
        return self._inner.provider

    def stream(
        self, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> CallTurnStream:
        """A stream for one activity's audio."""
        return CallTurnStream(self._inner.stream(conn_options=conn_options), self)

    def decide_wait(self, probability: float | None, threshold: float) -> tuple[float, str]:
        """The silence to wait now, and why."""
        context = self._context
        end = decide(
            context.transcript,
            probability,
            threshold=threshold,
            expectation=context.expectation,
            rhythm=context.rhythm,
            delays=self._delays,
            greeting=not context.agent_spoke,
        )
        return end.delay, end.reason

    @property
    def context(self) -> TurnContext:
        """What the call knows about the current turn."""
        return self._context

    @property
    def delays(self) -> Delays:
        """The waits the decision picks from."""
        return self._delays


class CallTurnStream:
    """v1-mini's stream, whose predictions wait for the call's end-of-turn decision."""

    def __init__(self, inner: _StreamingTurnDetectorStream, detector: CallTurnDetector) -> None:
        self._inner = inner
        self._detector = detector
        self._pending: asyncio.Task[None] | None = None
        self._fut: asyncio.Future[TurnDetectionEvent] | None = None

    # -- what the framework reads --------------------------------------------------------------

    @property
    def model(self) -> str:
        """The audio model underneath."""
        return str(self._inner.model)

    @property
    def provider(self) -> str:
        """Where the audio model runs."""
        return self._inner.provider

    @property
    def is_fallback(self) -> bool:
        """Whether the audio model fell back to its local version."""
        return self._inner.is_fallback

    @property
    def prediction_timeout(self) -> float:
        """How long the framework waits for a prediction (an uninterruptible speech too)."""
        return self._detector.delays.max_delay + FLOOR_WAIT

    async def unlikely_threshold(self, language: LanguageCode | None) -> float | None:
        """v1-mini's threshold (the predictions reported are sure once the wait is over)."""
        return await self._inner.unlikely_threshold(language)

    async def backchannel_threshold(self, language: LanguageCode | None) -> float | None:
        """v1-mini's backchannel threshold."""
        return await self._inner.backchannel_threshold(language)

    async def supports_language(self, language: LanguageCode | None) -> bool:
        """Whether v1-mini supports ``language``."""
        return await self._inner.supports_language(language)

    async def model_threshold(self) -> float:
        """v1-mini's threshold in the caller's language (as the framework reads it)."""
        language = self._detector.context.language
        return await self._inner.unlikely_threshold(language) or DEFAULT_THRESHOLD

    # -- predictions ---------------------------------------------------------------------------

    def predict(self) -> asyncio.Future[TurnDetectionEvent]:
        """A prediction that resolves when the caller has been silent long enough."""
        self.cancel_inference()
        silent_since = time.time() - PREDICTION_SILENCE
        fut: asyncio.Future[TurnDetectionEvent] = asyncio.get_running_loop().create_future()
        self._fut = fut
        self._pending = asyncio.create_task(self._decide(fut, silent_since))
        return fut

    def cancel_inference(self, *, timed_out: bool = False) -> None:
        """The caller speaks again (or the turn ended): drop the prediction under way."""
        self._inner.cancel_inference(timed_out=timed_out)
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self._fut is not None and not self._fut.done():
            self._fut.set_result(_event(0.0))
        self._fut = None

    def _needs_model(self, threshold: float) -> bool:
        """Whether v1-mini's answer can change the wait.

        True when the words so far leave it open, or the latest speech is not transcribed yet.
        """
        detector = self._detector
        if not detector.context.words_current:
            return True
        sure, _ = detector.decide_wait(threshold, threshold)
        unsure, _ = detector.decide_wait(0.0, threshold)
        return sure != unsure

    async def _decide(self, fut: asyncio.Future[TurnDetectionEvent], silent_since: float) -> None:
        """Resolve ``fut`` once the silence has lasted as long as the decision says.

        v1-mini is asked (its inference costs tens of milliseconds of CPU) and waited for only
        when the words leave the decision to it: a question, "Yes." or a trailing "and" settle
        the matter alone. No answer within its timeout counts as none.
        """
        detector = self._detector
        context = detector.context
        threshold = await self.model_threshold()
        prediction: asyncio.Future[TurnDetectionEvent] | None = None
        model_deadline = 0.0
        max_delay = detector.delays.max_delay
        while True:
            now = time.time()
            if context.agent_holds_floor:  # answer the caller once the agent can hear them
                await context.changed(FLOOR_POLL)
                continue
            needs_model = self._needs_model(threshold)
            if prediction is None and needs_model:
                prediction = self._inner.predict()
                model_deadline = now + self._inner.prediction_timeout
            waiting = prediction is not None and not prediction.done() and now < model_deadline
            probability: float | None = threshold  # unknown: the words decide alone
            if prediction is not None and prediction.done():
                probability = prediction.result().end_of_turn_probability
            elif prediction is not None and not waiting:
                probability = None  # no answer within its timeout
            delay, reason = detector.decide_wait(probability, threshold)
            if waiting and needs_model:  # wait for the model's answer
                delay = max(delay, model_deadline - silent_since)
            waited = now - silent_since
            if waited >= max_delay or (waited >= delay and context.words_current):
                break
            remaining = max_delay - waited if waited >= delay else delay - waited
            if waiting and prediction is not None:
                await _first(context.changed(min(remaining, model_deadline - now)), prediction)
            else:
                await context.changed(remaining)
        logger.debug("end of turn", extra={"delay": delay, "reason": reason})
        if prediction is not None and not prediction.done():
            self._inner.cancel_inference()
        if not fut.done():
            fut.set_result(_event(SURE))

    def flush(self, reason: str | None = None) -> None:
        """The turn was committed: v1-mini starts afresh."""
        self.cancel_inference()
        self._inner.flush(reason)

    def push_audio(self, frame: rtc.AudioFrame) -> None:
        """The caller's audio, for v1-mini."""
        self._inner.push_audio(frame)

    def end_input(self) -> None:
        """No more audio."""
        self.cancel_inference()
        self._inner.end_input()

    async def aclose(self) -> None:
        """Close v1-mini's stream."""
        self.cancel_inference()
        with contextlib.suppress(Exception):
            await self._inner.aclose()


async def _first(waiting: Coroutine[Any, Any, None], prediction: asyncio.Future[Any]) -> None:
    """Wait for ``waiting`` or ``prediction``, whichever is first."""
    task = asyncio.ensure_future(waiting)
    try:
        await asyncio.wait({task, prediction}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        task.cancel()


def _event(probability: float) -> TurnDetectionEvent:
    return TurnDetectionEvent(
        type="eot_prediction",
        end_of_turn_probability=probability,
        last_speaking_time=time.time(),
    )

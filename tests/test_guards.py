"""Each call guard on its own: when it fires, and the ending it calls for."""

from __future__ import annotations

import asyncio
import time

import pytest
from livekit.agents import AgentSession, APIStatusError, llm
from livekit.agents.voice.events import CloseEvent, CloseReason

from agent_runtime.call.ending import MAX_DURATION, USER_HANGUP
from agent_runtime.call.guards.base import Ending, Goodbye
from agent_runtime.call.guards.hangup import CallerHangup
from agent_runtime.call.guards.max_duration import MaxDuration
from agent_runtime.call.guards.session_failure import SessionFailure, closed_outcome
from agent_runtime.replay.clock import run_virtual
from agent_runtime.telephony.local import LocalLine


def test_the_caller_hanging_up_ends_the_call_at_once() -> None:
    async def main() -> tuple[bool, Ending]:
        line = LocalLine()
        watching = asyncio.create_task(CallerHangup(line).watch())
        await asyncio.sleep(5)
        waited = not watching.done()
        line.caller_left.set()
        return waited, await watching

    waited, ending = run_virtual(main)
    assert waited
    assert ending == Ending(USER_HANGUP, event="caller_hung_up", at_once=True)


@pytest.mark.parametrize(("answered_ago", "fires_after"), [(0.0, 30.0), (12.0, 18.0), (45.0, 0.0)])
def test_max_duration_counts_from_the_answer(answered_ago: float, fires_after: float) -> None:
    async def main() -> tuple[float, Ending]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        guard = MaxDuration(30.0, answered_at=time.time() - answered_ago, message="Bye.")
        ending = await guard.watch()
        return loop.time() - start, ending

    waited, ending = run_virtual(main)
    assert waited == pytest.approx(fires_after, abs=0.01)
    assert ending.outcome == MAX_DURATION
    assert ending.goodbye == Goodbye("max_duration_end_message", "Bye.")
    assert (ending.event, ending.at_once) == ("max_duration_reached", False)


def _llm_error(retryable: bool) -> llm.LLMError:
    failure = APIStatusError("overloaded", status_code=503, retryable=retryable)
    return llm.LLMError(timestamp=0.0, label="openai.LLM", error=failure, recoverable=False)


def test_a_session_that_closes_on_its_own_ends_the_call_with_the_failure_line() -> None:
    async def main() -> tuple[bool, Ending]:
        session: AgentSession = AgentSession()
        guard = SessionFailure(session, failure_line="Sorry, goodbye.")
        watching = asyncio.create_task(guard.watch())
        await asyncio.sleep(1)
        waited = not watching.done()
        session.emit("close", CloseEvent(error=_llm_error(True), reason=CloseReason.ERROR))
        ending = await watching
        assert guard.closed
        return waited, ending

    waited, ending = run_virtual(main)
    assert waited
    assert ending.goodbye == Goodbye("failure_line", "Sorry, goodbye.")
    outcome = ending.outcome
    assert (outcome.ended_by, outcome.end_reason, outcome.status) == (
        "system",
        "llm_error",
        "error",
    )
    assert outcome.error == "llm failed"


def test_a_session_closed_without_an_error_says_why() -> None:
    outcome = closed_outcome(CloseEvent(reason=CloseReason.PARTICIPANT_DISCONNECTED))
    assert (outcome.end_reason, outcome.error) == (
        "session_closed",
        "session closed: participant_disconnected",
    )

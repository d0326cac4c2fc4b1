"""The replay's stand-ins: the scripted LLM server and the recorded speech-to-text."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import APIConnectOptions, APIStatusError, llm, stt

from agent_runtime.replay.clock import LeftoverTasks, run_virtual
from agent_runtime.replay.llm_server import (
    LLMScript,
    ScriptedAnswer,
    ScriptedLLMServer,
    ScriptedToolCall,
    When,
)
from agent_runtime.replay.local_server import serve
from agent_runtime.replay.recorded_call import RecordedCall, RecordedCallError, Utterance
from agent_runtime.replay.stt import ReplaySTT

from .conftest import FIXTURES


async def _chat(base: str, messages: list[tuple[str, str]]) -> tuple[str, list[str]]:
    from livekit.plugins import openai

    model = openai.LLM(model="m", base_url=f"{base}/v1", api_key="k")
    ctx = llm.ChatContext.empty()
    for role, text in messages:
        ctx.add_message(role=role, content=text)  # type: ignore[arg-type]
    text, calls = "", []
    no_retry = APIConnectOptions(max_retry=0)
    try:
        async with model.chat(chat_ctx=ctx, conn_options=no_retry) as stream:
            async for chunk in stream:
                if chunk.delta and chunk.delta.content:
                    text += chunk.delta.content
                if chunk.delta and chunk.delta.tool_calls:
                    calls += [c.name for c in chunk.delta.tool_calls]
    finally:
        await model.aclose()
    return text, calls


SCRIPT = LLMScript(
    answers=[
        ScriptedAnswer(when=When(greeting=True), text="Hello!", ttft=0),
        ScriptedAnswer(
            when=When(user_contains="order"),
            tool_calls=[ScriptedToolCall(name="lookup", arguments={"id": "1"})],
            ttft=0,
        ),
        ScriptedAnswer(when=When(user_contains="broken"), status=500, ttft=0),
    ]
)


async def test_answers_are_picked_by_the_moment_of_the_call() -> None:
    server = ScriptedLLMServer(SCRIPT)
    async with serve(server.app) as base:
        assert await _chat(base, [("system", "be nice")]) == ("Hello!", [])
        assert await _chat(base, [("user", "where is my ORDER")]) == ("", ["lookup"])
        # asked again (a retried request): the same answer is served again
        assert await _chat(base, [("user", "my order?")]) == ("", ["lookup"])
        with pytest.raises(APIStatusError):
            await _chat(base, [("user", "something broken")])
        with pytest.raises(APIStatusError):
            await _chat(base, [("user", "unscripted")])
    assert [r.answered_with for r in server.requests] == [0, 1, 1, 2, None]


def test_replay_stt_releases_only_what_it_heard() -> None:
    position = 0.0
    engine = ReplaySTT(
        [
            Utterance(start=0.1, end=0.5, text="heard"),
            Utterance(start=1.0, end=1.4, text="dropped"),
        ],
        lambda: position,
    )

    async def main() -> list[str]:
        nonlocal position
        stream = engine.stream()
        silence = rtc.AudioFrame(np.zeros(160, dtype=np.int16).tobytes(), 8000, 1, 160)
        for step in range(1, 100):
            position = step * 0.02
            if 0.9 <= position <= 1.5:
                continue  # this audio never reached the stream (discarded by the session)
            stream.push_frame(silence)
            await asyncio.sleep(0)
        stream.end_input()
        texts = []
        async for event in stream:
            if event.type == stt.SpeechEventType.FINAL_TRANSCRIPT:
                texts.append(event.alternatives[0].text)
        return texts

    assert asyncio.run(main()) == ["heard"]


def test_recorded_call_folder_loads() -> None:
    recorded = RecordedCall.load(FIXTURES / "calls/order_status")
    assert recorded.sample_rate == 8000
    assert recorded.hangup_at == 26.0
    assert recorded.http.origins() == {"https://api.acme.example"}
    with pytest.raises(RecordedCallError, match="call.json: missing"):
        RecordedCall.load(FIXTURES)


def test_the_virtual_clock_moves_only_the_code_on_its_loop() -> None:
    real_start = time.time()

    async def main() -> tuple[float, float]:
        start = time.time()
        await asyncio.sleep(3600)  # an hour passes on the virtual clock, at once
        with ThreadPoolExecutor(max_workers=1) as pool:  # a thread outside the loop
            outside = await asyncio.get_running_loop().run_in_executor(pool, time.time)
        return time.time() - start, outside

    elapsed, outside = run_virtual(main)
    assert elapsed == pytest.approx(3600, abs=0.01)
    assert real_start <= outside <= time.time()  # the thread read the real clock


def test_a_task_left_running_by_a_virtual_run_is_reported() -> None:
    left: list[asyncio.Task[None]] = []

    async def leaky() -> None:
        left.append(asyncio.create_task(asyncio.sleep(60), name="forgotten"))

    with pytest.warns(LeftoverTasks, match="forgotten"):
        run_virtual(leaky)
    assert left[0].cancelled()  # and cancelled, not left behind

"""The paced output stream: segments, interruptions, pauses, the final goodbye, limiting."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from livekit import rtc
from livekit.agents.voice import io

from agent_runtime.media.output import CallAudioOutput
from agent_runtime.replay.clock import run_virtual

RATE = 24000


class CollectingSink:
    def __init__(self) -> None:
        self.frames: list[rtc.AudioFrame] = []

    async def write(self, frame: rtc.AudioFrame) -> None:
        self.frames.append(frame)

    async def wait_for_playout(self) -> None:
        return None

    def samples(self) -> npt.NDArray[np.int16]:
        return np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in self.frames])


def tone(seconds: float, level: float = 0.5) -> rtc.AudioFrame:
    n = int(RATE * seconds)
    data = (np.sin(np.arange(n) / 5) * level * 32767).astype(np.int16)
    return rtc.AudioFrame(data.tobytes(), RATE, 1, n)


def run(test: Callable[[CallAudioOutput, CollectingSink, list[Any]], Awaitable[None]]) -> None:
    async def main() -> None:
        sink = CollectingSink()
        output = CallAudioOutput(sink, sample_rate=RATE)
        events: list[Any] = []
        output.on("playback_started", lambda ev: events.append(("started", ev)))
        output.on("playback_finished", lambda ev: events.append(("finished", ev)))
        output.start()
        try:
            await test(output, sink, events)
        finally:
            await output.aclose()

    run_virtual(main)


def finished(events: list[Any]) -> list[io.PlaybackFinishedEvent]:
    return [ev for kind, ev in events if kind == "finished"]


def test_a_segment_plays_at_real_pace_and_reports_its_end() -> None:
    async def scenario(output: CallAudioOutput, sink: CollectingSink, events: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await output.capture_frame(tone(0.5))
        output.flush()
        ev = await output.wait_for_playout()
        assert loop.time() - start == pytest.approx(0.5, abs=0.05)
        assert ev.interrupted is False
        assert ev.playback_position == pytest.approx(0.5, abs=0.001)
        assert [kind for kind, _ in events] == ["started", "finished"]
        voiced = np.abs(sink.samples()) > 100
        assert 0.45 < voiced.sum() / RATE < 0.55

    run(scenario)


def test_clear_buffer_stops_now_and_reports_what_was_heard() -> None:
    async def scenario(output: CallAudioOutput, sink: CollectingSink, events: list[Any]) -> None:
        await output.capture_frame(tone(2.0))
        output.flush()
        await asyncio.sleep(0.3)
        output.clear_buffer()
        ev = await output.wait_for_playout()
        assert ev.interrupted is True
        assert 0.25 <= ev.playback_position <= 0.35
        await asyncio.sleep(0.2)
        tail = sink.samples()[-int(0.1 * RATE) :]
        assert np.abs(tail).max() == 0

    run(scenario)


def test_clear_while_capturing_finishes_the_segment_when_flushed() -> None:
    async def scenario(output: CallAudioOutput, sink: CollectingSink, events: list[Any]) -> None:
        await output.capture_frame(tone(0.2))
        await asyncio.sleep(0.1)
        output.clear_buffer()
        await output.capture_frame(tone(0.2))  # late frames of the cleared segment are dropped
        output.flush()
        ev = await output.wait_for_playout()
        assert ev.interrupted is True
        assert len(finished(events)) == 1

    run(scenario)


def test_pause_holds_the_voice_and_resume_continues_it() -> None:
    async def scenario(output: CallAudioOutput, sink: CollectingSink, events: list[Any]) -> None:
        await output.capture_frame(tone(0.4))
        output.flush()
        await asyncio.sleep(0.2)
        output.pause()
        before = len(sink.frames)
        await asyncio.sleep(0.5)
        held = sink.samples()[before * 480 :]
        assert np.abs(held[480:]).max() == 0
        output.resume()
        ev = await output.wait_for_playout()
        assert ev.interrupted is False
        assert ev.playback_position == pytest.approx(0.4, abs=0.001)

    run(scenario)


def test_play_final_cuts_the_session_and_plays_to_the_end() -> None:
    async def scenario(output: CallAudioOutput, sink: CollectingSink, events: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        await output.capture_frame(tone(3.0))
        output.flush()
        await asyncio.sleep(0.2)
        start = loop.time()
        await output.play_final([tone(0.6, level=0.9)])
        assert loop.time() - start == pytest.approx(0.6, abs=0.05)
        assert finished(events)[0].interrupted is True
        await output.capture_frame(tone(0.5))  # the session can no longer speak
        output.flush()
        ev = await output.wait_for_playout()
        assert ev.interrupted is True and ev.playback_position == 0
        loud = np.abs(sink.samples()) > 0.5 * 32767
        assert loud.sum() > 0.2 * RATE

    run(scenario)


class LoudLayer:
    def render(self, mix: npt.NDArray[np.float32], voice_active: bool) -> None:
        mix += 0.6


def test_the_mix_is_limited_not_wrapped() -> None:
    async def scenario(output: CallAudioOutput, sink: CollectingSink, events: list[Any]) -> None:
        output.add_layer(LoudLayer())
        await output.capture_frame(tone(0.2, level=1.0))
        output.flush()
        await output.wait_for_playout()
        samples = sink.samples().astype(np.int32)
        assert 30000 < samples.max() <= 32767
        assert np.abs(np.diff(samples)).max() < 20000  # no wrap-around jumps

    run(scenario)


def test_the_pacer_keeps_time() -> None:
    async def scenario(output: CallAudioOutput, sink: CollectingSink, events: list[Any]) -> None:
        await asyncio.sleep(10)
        assert 495 <= output.stats.frames <= 505
        assert output.stats.late_frames == 0

    run(scenario)

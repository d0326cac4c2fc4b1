"""The max-duration limit holds whatever hangs: the LLM, a tool, or the TTS."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from livekit.agents import tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from agent_runtime.replay.run import ReplayResult, run_replay

from .conftest import FIXTURES
from .replays import agent_segments

pytestmark = pytest.mark.replay

LIMIT = 20.0


def _max_duration_call(tmp_path: Path, **changes: Any) -> Path:
    folder = tmp_path / "call"
    shutil.copytree(FIXTURES / "calls/max_duration", folder)
    for name, update in changes.items():
        path = folder / f"{name}.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        update(data)
        path.write_text(json.dumps(data))
    return folder


def test_a_hanging_tool_does_not_hold_the_call_past_its_limit(tmp_path: Path) -> None:
    def use_tool(call: dict[str, Any]) -> None:
        call["call"]["assistant"]["custom_tools"] = [
            {
                "name": "billing_lookup",
                "description": "Look up a charge.",
                "method": "GET",
                "url": "https://billing.acme.example/charges",
                "input_schema": [],
            }
        ]

    def call_tool(llm: dict[str, Any]) -> None:
        llm["answers"][1] = {
            "when": {"user_contains": "forty dollars"},
            "tool_calls": [{"name": "billing_lookup"}],
        }

    def slow_service(http: dict[str, Any]) -> None:
        http["answers"] = [
            {"method": "GET", "url": "https://billing.acme.example/charges", "delay": 120}
        ]

    folder = _max_duration_call(tmp_path, call=use_tool, llm=call_tool, http=slow_service)
    result = run_replay(folder, fast=True, env={"HTTP_TOOLS_TIMEOUT": "300"})
    report = result.call.report
    assert (report.ended_by, report.end_reason) == ("system", "max_duration")
    assert len(result.http_requests) == 1  # the tool was running when the limit came
    start, end, interrupted = agent_segments(result)[-1]
    assert start == pytest.approx(LIMIT, abs=0.1) and not interrupted
    assert report.runtime.duration is not None and report.runtime.duration < LIMIT + 6


class HangingTTS(tts.TTS):
    """A voice provider that accepts requests and never answers."""

    def __init__(self) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False), sample_rate=24000, num_channels=1
        )

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _Never(tts=self, input_text=text, conn_options=conn_options)


class _Never(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        await asyncio.Event().wait()


def test_a_hanging_tts_does_not_hold_the_call_past_its_limit(tmp_path: Path) -> None:
    folder = _max_duration_call(tmp_path)
    result: ReplayResult = run_replay(folder, fast=True, voice=HangingTTS())
    report = result.call.report
    assert (report.ended_by, report.end_reason) == ("system", "max_duration")
    assert report.runtime.duration is not None
    assert LIMIT <= report.runtime.duration < LIMIT + 10
    assert any("could not be rendered" in w for w in report.runtime.warnings)
    assert result.hung_up_at is not None

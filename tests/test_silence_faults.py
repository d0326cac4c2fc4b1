"""A fault on our side never leaves the caller in silence: the LLM hangs or stalls, a tool hangs.

Each case is the demo call (``order_status``) with one fault injected at the network boundary:
the local OpenAI-compatible server that never answers, or stops after two tokens, and the
order service that never answers. What the caller hears comes from the call's report: the
holding line and the turns given up are events, the agent's speech is in the transcript and
its voice segments.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from livekit.plugins import cartesia

from agent_runtime.call.options import RECOVERY_LINE
from agent_runtime.call.watchdog import GIVE_UP_AFTER, HOLD_AFTER
from agent_runtime.config.voice import VoiceProfile
from agent_runtime.providers import ProviderSettings, build_voice
from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.local_server import serve
from agent_runtime.replay.recorded_call import RecordedCall
from agent_runtime.replay.run import ReplayResult, replay, run_replay

from .conftest import FIXTURES
from .replays import caller_speech, replayed

pytestmark = pytest.mark.replay

ANSWER = "Your order four two seven shipped yesterday and should arrive on Monday."


def _faulty(tmp_path: Path, change: Callable[[dict[str, Any], dict[str, Any]], None]) -> Path:
    """The demo call, with ``change`` applied to its LLM and HTTP answers."""
    folder = tmp_path / "order_status"
    shutil.copytree(FIXTURES / "calls" / "order_status", folder)
    llm = json.loads((folder / "llm.json").read_text())
    http = json.loads((folder / "http.json").read_text())
    change(llm, http)
    (folder / "llm.json").write_text(json.dumps(llm))
    (folder / "http.json").write_text(json.dumps(http))
    return folder


def _events(result: ReplayResult, kind: str) -> list[tuple[float, dict[str, Any]]]:
    return [(e.at, e.detail) for e in result.call.report.runtime.events if e.type == kind]


def _said(result: ReplayResult) -> list[str]:
    return [r.content for r in result.call.report.transcript or [] if r.role == "assistant"]


def _question_end(result: ReplayResult) -> float:
    """When the caller finished asking about the order (report time)."""
    return caller_speech(result)[0][1]


def test_an_llm_that_never_answers_gets_a_holding_line_then_an_apology(tmp_path: Path) -> None:
    def hang(llm: dict[str, Any], _: dict[str, Any]) -> None:
        llm["answers"][0]["hang"] = True

    result = run_replay(_faulty(tmp_path, hang), fast=True)
    asked = _question_end(result)
    ((held, detail),) = _events(result, "holding_line")
    assert detail == {"tool": False}
    # heard within the end of turn's wait plus the holding delay (the espeak caller's end of
    # turn takes up to 2.5 s to be sure: docs/replay.md)
    assert held - asked <= 2.5 + HOLD_AFTER + 0.2
    ((gave_up, _),) = _events(result, "turn_given_up")
    assert gave_up - held < GIVE_UP_AFTER
    assert any(
        text and RECOVERY_LINE.startswith(text) for text in _said(result)
    )  # the caller cut it
    assert result.call.report.ended_by == "user"  # the call went on


def test_a_stalled_stream_is_given_up_and_its_fragment_never_heard(tmp_path: Path) -> None:
    def stall(llm: dict[str, Any], _: dict[str, Any]) -> None:
        first = llm["answers"][0]
        first.pop("tool_calls")
        first.update({"text": "Let me check that order for you.", "stall_after": 2})

    result = run_replay(_faulty(tmp_path, stall), fast=True)
    assert len(_events(result, "holding_line")) == 1
    assert len(_events(result, "turn_given_up")) == 1
    said = _said(result)
    assert any(text and RECOVERY_LINE.startswith(text) for text in said)
    assert not any("Let me" in text for text in said)  # the transcript holds what was heard


def test_a_hanging_tool_holds_the_line_and_is_never_cut_by_the_watchdog(tmp_path: Path) -> None:
    def slow_service(_: dict[str, Any], http: dict[str, Any]) -> None:
        http["answers"][0]["delay"] = 60.0

    result = run_replay(_faulty(tmp_path, slow_service), fast=True)
    holds = _events(result, "holding_line")
    assert holds and all(detail == {"tool": True} for _, detail in holds)
    assert _events(result, "turn_given_up") == []
    tool_rows = [r for r in result.call.report.transcript or [] if r.role == "tool"]
    assert tool_rows and tool_rows[0].tool_is_error  # the tool's own time budget ended it


def test_a_normal_call_gets_no_holding_line() -> None:
    result = replayed("order_status")
    assert _events(result, "holding_line") == []
    assert _events(result, "turn_given_up") == []
    assert ANSWER in _said(result)


def _silent_voice_provider() -> web.Application:
    """Cartesia's API, accepting every request and never answering."""

    async def never(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    app = web.Application()
    app.router.add_post("/tts/bytes", never)
    app.router.add_get("/tts/websocket", never)
    return app


def test_a_voice_that_never_answers_ends_the_call_as_a_voice_failure(tmp_path: Path) -> None:
    app = _silent_voice_provider()  # no fallback voice, no last resort (TTS_LAST_RESORT=none)
    folder = _faulty(tmp_path, lambda llm, http: None)
    (folder / "caller.json").write_text(json.dumps({"hangup_at": 45.0}))

    async def main() -> ReplayResult:
        async with serve(app) as base:
            voice = cartesia.TTS(api_key="k", base_url=base, model="sonic-3")
            return await replay(RecordedCall.load(folder), inline_inference=True, voice=voice)

    result = run_virtual(main)
    report = result.call.report
    assert len(_events(result, "turn_given_up")) == 2  # both turns, nothing ever heard
    assert (report.status, report.ended_by, report.end_reason) == ("error", "system", "tts_error")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="the last resort is espeak-ng")
def test_the_offline_last_resort_speaks_when_the_voice_never_answers(tmp_path: Path) -> None:
    folder = _faulty(tmp_path, lambda llm, http: None)

    async def main() -> ReplayResult:
        async with serve(_silent_voice_provider()) as base:
            env = ProviderSettings.from_env({"CARTESIA_API_KEY": "k", "CARTESIA_BASE_URL": base})
            voice = build_voice(VoiceProfile("cartesia", "voice-123", None, None), env)
            return await replay(RecordedCall.load(folder), inline_inference=True, voice=voice)

    result = run_virtual(main)
    report = result.call.report
    assert (report.status, report.end_reason) == ("completed", "user_hangup")
    assert _said(result)[0].startswith("Your order four two seven")  # heard, in the offline voice
    assert _events(result, "turn_given_up") == []

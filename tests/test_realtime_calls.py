"""Calls with a realtime (speech-to-speech) model, against a local OpenAI Realtime stand-in.

The real OpenAI plugin connects through ``OPENAI_BASE_URL`` to ``replay.realtime_server``; the
call runs through the production runner with the real VAD, on the virtual clock, and the
caller's side is a recorded call's audio. What the caller heard is read in the recording.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from agent_runtime.call.options import FAILURE_LINE, RECOVERY_LINE, RunOptions
from agent_runtime.call.ports import CallPorts
from agent_runtime.call.runner import CallResult, CallRunner
from agent_runtime.config.loading import load_file
from agent_runtime.integrations.settings import IntegrationSettings
from agent_runtime.providers import ProviderSettings, build_providers, build_vad
from agent_runtime.replay.clock import InlineExecutor, run_virtual
from agent_runtime.replay.local_server import serve
from agent_runtime.replay.media import ReplayMedia
from agent_runtime.replay.realtime_server import RealtimeStandIn, Turn, TurnScript
from agent_runtime.replay.recorded_call import RecordedCall
from agent_runtime.replay.run import run_replay
from agent_runtime.telephony.port import SipParticipant
from agent_runtime.telephony.recorded import RecordedLine

from .conftest import FIXTURES

pytestmark = pytest.mark.replay

GREETING = "Hello, this is Alex from Acme support. How can I help you today?"
GOODBYE = "Thank you for calling Acme. Goodbye!"
OUT_OF_TIME = "I am sorry, we are out of time. Please call us back. Goodbye."
REALTIME = {"type": "realtime", "provider": "openai", "realtime_model_id": "gpt-realtime"}


@dataclass(frozen=True)
class RealtimeCall:
    """A finished call and what the stand-in saw."""

    result: CallResult
    standin: RealtimeStandIn
    heard: np.ndarray[Any, np.dtype[np.int16]]
    """What the caller heard (the recording's right channel)."""
    rate: int

    def said(self) -> list[str]:
        rows = self.result.report.transcript or []
        return [r.content for r in rows if r.role == "assistant"]

    def events(self) -> list[str]:
        return [e.type for e in self.result.report.runtime.events]

    def voice_between(self, start: float, end: float) -> float:
        """Seconds of the agent's voice the caller heard between ``start`` and ``end``."""
        window = self.heard[int(start * self.rate) : int(end * self.rate)].astype(np.float64)
        block = self.rate // 50
        blocks = window[: window.size // block * block].reshape(-1, block)
        loud = np.sqrt((blocks**2).mean(axis=1)) > 1000
        return float(loud.sum()) / 50


def _folder(tmp: Path, fixture: str, **assistant: Any) -> Path:
    folder = tmp / "call"
    shutil.copytree(FIXTURES / "calls" / fixture, folder)
    config = json.loads((folder / "call.json").read_text())
    config["call"]["assistant"].update({"llm_model": REALTIME, **assistant})
    (folder / "call.json").write_text(json.dumps(config))
    return folder


async def _run(folder: Path, standin: RealtimeStandIn) -> CallResult:
    recorded = RecordedCall.load(folder)
    spec = load_file(recorded.config_path)
    media = ReplayMedia(recorded)
    line = RecordedLine(
        recorded.phone,
        hung_up=media.caller_audio.hung_up,
        playhead=media.playhead,
        reached=media.caller_audio.reached,
        participant=SipParticipant("sip_caller"),
        outbound=spec.call.direction == "outbound",
    )
    output = Path(tempfile.mkdtemp(prefix="realtime-call-"))
    async with serve(standin.app) as base_url:
        settings = ProviderSettings.from_env(
            {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": f"{base_url}/v1"}
        )
        providers = build_providers(
            spec.llm_model, spec.voice, settings, vad=build_vad(InlineExecutor())
        )
        runner = CallRunner(
            spec,
            providers,
            CallPorts(media, line, IntegrationSettings.from_env({})),
            RunOptions(output_dir=output),
        )
        try:
            result = await runner.run()
        finally:
            await line.aclose()
            await providers.aclose()
    return result


def _call(folder: Path, script: list[Turn]) -> RealtimeCall:
    """Run the recorded call of ``folder``; the stand-in answers its turns from ``script``."""
    standin = RealtimeStandIn(TurnScript(script))
    result: CallResult = run_virtual(lambda: _run(folder, standin))
    assert result.recording_path is not None
    audio, rate = soundfile.read(str(result.recording_path), dtype="int16", always_2d=True)
    return RealtimeCall(result, standin, np.ascontiguousarray(audio[:, 1]), int(rate))


def _spoken_at(call: RealtimeCall, text: str) -> tuple[float, float]:
    """When the agent said ``text``, in seconds from the call's start (its speech segment)."""
    said = call.said()
    assert text in said, f"not in the transcript: {text!r}"
    speech = [s for s in call.result.report.runtime.speech if s.role == "assistant"]
    assert len(speech) == len(said)
    segment = speech[said.index(text)]
    return segment.start, segment.end


BILL = "Hello. I have a question about my last bill."
CHARGE = "It is about the charge of forty dollars on the tenth of the month."


def test_the_static_greeting_is_heard_and_the_base_url_is_honoured(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "max_duration", max_call_duration_secs=600)
    call = _call(folder, [Turn("Of course, what about it?", heard=BILL)])
    assert call.said()[:2] == [GREETING, "Of course, what about it?"]
    start, end = _spoken_at(call, GREETING)
    assert call.voice_between(start, end + 0.2) > 1.0  # the caller heard it
    rows = call.result.report.transcript or []
    assert [r.content for r in rows if r.role == "user"][0] == BILL
    # the realtime session and the greeting's voice both went to OPENAI_BASE_URL
    connection = call.standin.connections[0]
    assert (len(call.standin.connections), connection.model) == (1, "gpt-realtime")
    assert connection.authorized and connection.of_type("session.update")
    assert connection.audio_bytes > 0  # the caller's audio reached it
    greeting = [r for r in call.standin.speech_requests if r["input"] == GREETING]
    assert greeting[0]["voice"] == "marin"  # spoken in the realtime model's voice
    # the realtime model knows it greeted
    created = connection.of_type("conversation.item.create")
    assert created[0]["item"]["role"] == "assistant"
    assert GREETING in json.dumps(created[0]["item"]["content"])


def test_a_generated_greeting_comes_from_the_realtime_model(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path, "max_duration", first_sentence_mode="generated", max_call_duration_secs=600
    )
    call = _call(folder, [Turn("Good morning, Acme support, Alex speaking.")])
    assert call.said()[0] == "Good morning, Acme support, Alex speaking."
    start, end = _spoken_at(call, call.said()[0])
    assert call.voice_between(start, end + 0.2) > 1.0
    assert GREETING not in [r["input"] for r in call.standin.speech_requests]


def test_the_max_duration_message_is_heard_and_ends_the_call(tmp_path: Path) -> None:
    call = _call(
        _folder(tmp_path, "max_duration"),
        [Turn("Sure, go on.", heard=BILL), Turn("Let me look at that charge.", heard=CHARGE)],
    )
    report = call.result.report
    assert (report.status, report.ended_by, report.end_reason) == (
        "completed",
        "system",
        "max_duration",
    )
    assert call.said()[-1] == OUT_OF_TIME
    start, end = _spoken_at(call, OUT_OF_TIME)
    assert call.voice_between(start, end + 0.2) > 1.5


def test_the_end_of_call_sentence_is_heard_after_the_end_call_tool(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "end_call", end_of_call_sentence=GOODBYE)
    call = _call(
        folder, [Turn("Our main store is at twelve Market Street."), Turn(tool="end_call")]
    )
    report = call.result.report
    assert (report.status, report.ended_by, report.end_reason) == (
        "completed",
        "agent",
        "tool_end_call",
    )
    assert call.said()[-1] == GOODBYE
    start, end = _spoken_at(call, GOODBYE)
    assert call.voice_between(start, end + 0.2) > 1.0


def test_a_failed_realtime_answer_is_followed_by_the_recovery_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "max_duration", max_call_duration_secs=600)
    call = _call(folder, [Turn(fail="failed"), Turn("Forty dollars is the monthly fee.")])
    said = call.said()
    assert said[1] == RECOVERY_LINE
    start, end = _spoken_at(call, RECOVERY_LINE)
    assert call.voice_between(start, end + 0.2) > 1.0
    assert said[2] == "Forty dollars is the monthly fee."  # the call goes on
    assert call.result.report.status == "completed"


@pytest.mark.parametrize(
    "failure",
    [Turn(fail="fatal"), Turn(fail="close", again=True), Turn(fail="error", again=True)],
    ids=["fatal-error", "socket-closing-on-every-reply", "error-on-every-reply"],
)
def test_an_unrecoverable_realtime_failure_ends_the_call_with_an_apology(
    tmp_path: Path, failure: Turn
) -> None:
    folder = _folder(tmp_path, "max_duration", max_call_duration_secs=600)
    call = _call(folder, [failure])
    report = call.result.report
    assert (report.status, report.ended_by, report.end_reason) == ("error", "system", "llm_error")
    said = call.said()
    assert said[-1] == FAILURE_LINE
    start, end = _spoken_at(call, FAILURE_LINE)
    assert call.voice_between(start, end + 0.2) > 1.5  # a clear goodbye, heard
    assert "hung_up" in call.events()


def test_a_stalled_realtime_model_holds_the_line_then_says_the_recovery_line(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path, "end_call", max_call_duration_secs=600)
    answer = "Our main store is at twelve Market Street."
    call = _call(folder, [Turn(fail="stall"), Turn(answer)])
    events = call.events()
    assert "holding_line" in events and "turn_given_up" in events
    said = call.said()
    # the caller talks over both (the recording does not wait): each is cut, but heard
    assert RECOVERY_LINE.startswith(said[1]) and said[2].startswith("Our main")
    assert answer.startswith(said[2])
    start, end = _spoken_at(call, said[1])
    assert call.voice_between(start, end) > 0.5


def test_a_recorded_call_replays_with_a_realtime_model(tmp_path: Path) -> None:
    # the same recording as a text call's: llm.json answers, stt.json transcribes the caller
    result = run_replay(_folder(tmp_path, "end_call"), fast=True)
    report = result.call.report
    assert (report.ended_by, report.end_reason) == ("agent", "tool_end_call")
    rows = [(r.role, r.content or r.tool_name) for r in report.transcript or []]
    assert rows == [
        ("assistant", GREETING),
        ("user", "Hi. Where is your main store?"),
        ("assistant", "Our main store is at twelve Market Street, next to the central station."),
        ("user", "Got it. That is all, thank you. Goodbye."),
        ("tool", "end_call"),
        ("assistant", GOODBYE),
    ]
    assert result.realtime is not None and result.llm_requests == []
    assert [c.model for c in result.realtime.connections] == ["gpt-realtime"]

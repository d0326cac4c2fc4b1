"""Warm transfer: the caller on hold, the colleague briefed on a second leg, connected or not.

The recorded calls replay the whole flow offline: the caller's audio, the colleague's audio on
the consultation leg (``supervisor.wav``) and their transcripts, the LLM on both legs. The
recording is checked for what the caller heard: hold music (never silence, never the
briefing), then the colleague. The flow's decisions are tested on the real adapters of the
phone line (recorded and console).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soundfile
from livekit.agents import llm

from agent_runtime.call.briefing import (
    DEFAULT_SUMMARY,
    SupervisorAnswer,
    briefing_instructions,
    conversation,
)
from agent_runtime.call.floor import Floor
from agent_runtime.call.settings import CallSettings
from agent_runtime.call.warm_transfer import (
    WHY_NOBODY,
    WarmResult,
    WarmTransfer,
    come_back_instructions,
    outcome_of_answer,
    outcome_of_dial,
)
from agent_runtime.errors import DialFailed, SettingsError
from agent_runtime.media.hold import HoldMusic
from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.expect import check
from agent_runtime.replay.media import HeardSink
from agent_runtime.replay.run import ReplayResult, run_replay
from agent_runtime.report.model import CallEvent
from agent_runtime.telephony.local import LocalLine
from agent_runtime.telephony.port import ConsultationLeg, TelephonyPort
from agent_runtime.telephony.recorded import PhoneScript, RecordedConsult, RecordedLine

from .conftest import FIXTURES
from .replays import replayed

NUMBER = "+14155550177"
CALLS = [
    "warm_transfer_accepted",
    "warm_transfer_declined",
    "warm_transfer_no_answer",
    "warm_transfer_voicemail",
    "warm_transfer_caller_hangs_up",
]


def _event(result: ReplayResult, type: str) -> CallEvent:
    (event,) = [e for e in result.call.report.runtime.events if e.type == type]
    return event


def _levels(samples: npt.NDArray[np.float32], rate: int, window: float) -> list[float]:
    """dBFS RMS of each ``window`` seconds of ``samples``."""
    step = int(window * rate)
    return [
        20 * float(np.log10(np.sqrt(np.mean(samples[i : i + step] ** 2)) + 1e-9))
        for i in range(0, samples.size - step + 1, step)
    ]


def _heard(result: ReplayResult) -> tuple[npt.NDArray[np.float32], int]:
    """What the caller heard (the recording's right channel) and its rate."""
    assert result.call.recording_path is not None
    data, rate = soundfile.read(str(result.call.recording_path), dtype="float32")
    return np.ascontiguousarray(data[:, 1]), int(rate)


def _colleague_heard(result: ReplayResult, rate: int, length: int) -> npt.NDArray[np.float32]:
    """What the colleague heard on their leg, on the recording's timeline."""
    (leg,) = result.line.legs
    sink = leg.media.sink
    assert isinstance(sink, HeardSink)
    report = result.call.report
    assert report.started_at is not None
    origin = report.started_at.timestamp()
    out = np.zeros(length, dtype=np.float32)
    for at, frame in sink.frames:
        assert frame.sample_rate == rate
        samples = np.frombuffer(frame.data, dtype=np.int16).astype(np.float32) / 32768
        start = int(round((at - origin) * rate))
        end = min(length, start + samples.size)
        if 0 <= start < end:
            out[start:end] = samples[: end - start]
    return out


def _hold_span(result: ReplayResult, until: float) -> tuple[float, float]:
    """From the end of the transfer line to ``until``, in report seconds."""
    report = result.call.report
    transfer_line = [s for s in report.runtime.speech if s.role == "assistant" and s.start >= 13.0][
        0
    ]
    return transfer_line.end, until


# -- the recorded calls -------------------------------------------------------------------------


@pytest.mark.replay
def test_the_call_limit_on_hold_ends_the_hold_music_and_the_colleagues_line(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "call"
    shutil.copytree(FIXTURES / "calls" / "warm_transfer_no_answer", folder)
    (folder / "expect.json").unlink(missing_ok=True)
    config = json.loads((folder / "call.json").read_text())
    assistant = config["call"]["assistant"]
    assistant["max_call_duration_secs"] = 28  # while the colleague's phone rings
    assistant["max_duration_end_message"] = "I am sorry, we are out of time for today. Goodbye."
    (folder / "call.json").write_text(json.dumps(config))
    result = run_replay(folder, fast=True, output_dir=tmp_path / "out")
    report = result.call.report
    assert (report.ended_by, report.end_reason) == ("system", "max_duration")
    assert _event(result, "transfer").detail["outcome"] == "cancelled"
    assert all(leg.hung_up_at is not None for leg in result.line.legs)
    limit = _event(result, "max_duration_reached").at
    heard, rate = _heard(result)
    before = _levels(heard[int((limit - 2) * rate) : int(limit * rate)], rate, 0.1)
    assert min(before) > -40  # on hold until the limit
    during = _levels(heard[int(limit * rate) :], rate, 0.1)
    assert len(during) > 20 and max(during) > -30  # the goodbye was heard
    while during and during[-1] < -100:
        during.pop()  # the silence after the hang-up
    assert min(during) < -60  # a pause between the goodbye's words is silent: no music under it


@pytest.mark.replay
@pytest.mark.parametrize("name", CALLS)
def test_warm_transfer_calls_replay_as_expected(name: str) -> None:
    result = replayed(name)
    assert check(result.call.report, result.recorded.expect) == []
    assert [r.describe() for r in result.llm_requests if r.answered_with is None] == []
    assert result.line.consults == [NUMBER]
    assert result.line.transfers == []  # never a cold transfer
    for leg in result.line.legs:  # nothing is left ringing or connected
        assert leg.hung_up_at is not None


@pytest.mark.replay
def test_an_accepted_warm_transfer_connects_the_caller_and_ends_the_agents_part() -> None:
    result = replayed("warm_transfer_accepted")
    report = result.call.report
    assert (report.ended_by, report.end_reason, report.status) == ("agent", "transfer", "completed")
    transfer = _event(result, "transfer")
    assert transfer.detail["outcome"] == "connected"
    assert transfer.detail["decided_by"] == "voice"
    assert transfer.detail["answered_at"] == _event(result, "transfer_answered").at
    (leg,) = result.line.legs
    assert leg.connected_at is not None
    briefing = [e.detail for e in report.runtime.events if e.type == "consultation"]
    assert briefing[0]["role"] == "agent" and "double charge" in str(briefing[0]["text"])
    assert {"role": "supervisor", "text": "Yes, put them through."} in briefing
    # the briefing LLM was given the conversation and the configured summary instructions
    (brief,) = [r for r in result.llm_requests if "accept_transfer" in r.tool_names][:1]
    system = str(brief.messages[0]["content"])
    assert "charged twice" in system and "Say who is calling and why" in system
    # the caller's words on hold are kept; their talk with the colleague is not the agent's
    said = [r.content for r in report.transcript or [] if r.role == "user"]
    assert said[-1] == "Okay, I will wait."


@pytest.mark.replay
def test_the_caller_hears_hold_music_never_the_briefing_then_the_colleague() -> None:
    result = replayed("warm_transfer_accepted")
    heard, rate = _heard(result)
    connected = _event(result, "transfer").at
    start, end = _hold_span(result, connected)
    hold = heard[int((start + 0.5) * rate) : int((end - 0.5) * rate)]
    levels = _levels(hold, rate, 0.5)
    assert len(levels) > 30  # the hold lasted the ringing and the whole briefing
    assert all(-40.0 < level < -18.0 for level in levels), levels  # music, never silence
    # the briefing was said on the colleague's leg at that time, and none of it reached the caller
    briefing = _colleague_heard(result, rate, heard.size)[
        int((start + 0.5) * rate) : int((end - 0.5) * rate)
    ]
    assert max(_levels(briefing, rate, 1.0)) > -30.0
    correlation = float(np.dot(hold, briefing)) / float(
        np.linalg.norm(hold) * np.linalg.norm(briefing)
    )
    assert abs(correlation) < 0.05
    # after the connection the caller hears the colleague: their line, then "Hello, this is Sam"
    (leg,) = result.line.legs
    assert leg.connected_at is not None
    hello = connected + (27.0 - leg.connected_at)  # supervisor.wav: "Hello..." at 27 s
    quiet = heard[int((connected + 0.5) * rate) : int((hello - 0.5) * rate)]
    assert max(_levels(quiet, rate, 0.5)) < -45.0  # the hold music stopped
    voice = heard[int(hello * rate) : int((hello + 2.0) * rate)]
    assert min(_levels(voice, rate, 1.0)) > -35.0


@pytest.mark.replay
def test_a_declined_warm_transfer_comes_back_to_the_caller() -> None:
    result = replayed("warm_transfer_declined")
    report = result.call.report
    transfer = _event(result, "transfer")
    assert (transfer.detail["outcome"], transfer.detail["decided_by"]) == ("declined", "key")
    (leg,) = result.line.legs
    assert leg.connected_at is None and leg.hung_up_at is not None
    rows = report.transcript or []
    sorry = [i for i, r in enumerate(rows) if r.content.startswith("I am sorry, nobody can")]
    assert sorry and rows[sorry[0] + 1].role == "user"  # the conversation went on
    # the hold music stopped when the agent came back
    heard, rate = _heard(result)
    back = [s for s in report.runtime.speech if s.role == "assistant" and s.start > transfer.at]
    after = heard[int((back[0].end + 0.5) * rate) : int((back[0].end + 5.0) * rate)]
    assert max(_levels(after, rate, 0.5)) < -60.0


@pytest.mark.replay
def test_a_warm_transfer_nobody_answers_rings_out_on_hold() -> None:
    result = replayed("warm_transfer_no_answer")
    transfer = _event(result, "transfer")
    assert transfer.detail["outcome"] == "no_answer"
    assert result.line.legs == []  # never answered, so no leg to hang up
    heard, rate = _heard(result)
    start, end = _hold_span(result, transfer.at)
    levels = _levels(heard[int((start + 0.5) * rate) : int((end - 0.5) * rate)], rate, 0.5)
    assert len(levels) > 50 and all(-40.0 < level < -18.0 for level in levels)
    rows = [r.content for r in result.call.report.transcript or []]
    assert "I am sorry, nobody can take your call right now." in " ".join(rows)


@pytest.mark.replay
def test_a_colleagues_voicemail_is_heard_by_its_beep_and_never_connected() -> None:
    result = replayed("warm_transfer_voicemail")
    transfer = _event(result, "transfer")
    assert (transfer.detail["outcome"], transfer.detail["decided_by"]) == ("voicemail", "beep")
    (leg,) = result.line.legs
    assert leg.connected_at is None and leg.hung_up_at is not None
    rows = [r.content for r in result.call.report.transcript or []]
    assert "I am sorry, nobody can take your call right now." in " ".join(rows)


@pytest.mark.replay
def test_the_caller_hanging_up_during_the_briefing_cancels_the_colleagues_leg() -> None:
    result = replayed("warm_transfer_caller_hangs_up")
    report = result.call.report
    assert (report.ended_by, report.end_reason) == ("user", "user_hangup")
    assert _event(result, "transfer").detail["outcome"] == "cancelled"
    (leg,) = result.line.legs
    assert leg.connected_at is None and leg.hung_up_at is not None
    # the colleague was being briefed (the agent spoke on their leg) when the caller left,
    # before they could answer ("Yes, put them through" at 17 s of their audio)
    sink = leg.media.sink
    assert isinstance(sink, HeardSink)
    voiced = [f for _, f in sink.frames if np.abs(np.frombuffer(f.data, np.int16)).max() > 1000]
    assert voiced
    assert leg.hung_up_at < 17.0


# -- the flow's decisions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dial_error", "outcome"),
    [("no_answer", "no_answer"), ("busy", "busy"), ("number_non_attributed", "failed")],
)
def test_a_colleague_not_reached_has_its_outcome(dial_error: Any, outcome: str) -> None:
    assert outcome_of_dial(DialFailed("x", dial_error=dial_error)) == outcome


def test_a_colleague_who_rejects_the_ringing_call_declined_it() -> None:
    rejected = DialFailed("x", dial_error="non_classified_error", sip_status=603)
    assert outcome_of_dial(rejected) == "declined"


@pytest.mark.parametrize(
    ("decision", "outcome"),
    [
        ("accepted", "connected"),
        ("declined", "declined"),
        ("voicemail", "voicemail"),
        ("hung_up", "declined"),
        ("undecided", "declined"),
        ("failed", "failed"),
    ],
)
def test_the_colleagues_answer_has_its_outcome(decision: Any, outcome: str) -> None:
    assert outcome_of_answer(SupervisorAnswer(decision, "voice")) == outcome


def test_the_agent_comes_back_with_what_happened_and_what_next() -> None:
    for outcome, why in WHY_NOBODY.items():
        words = come_back_instructions(WarmResult(outcome))
        assert why in words and "take a message" in words and "call them back" in words


def test_the_briefing_follows_the_configured_summary_or_the_default() -> None:
    chat = llm.ChatContext()
    chat.add_message(role="system", content="You are Alex.")
    chat.add_message(role="user", content="My parcel is lost.")
    chat.add_message(role="assistant", content="Let me get a colleague.")
    history = conversation(chat.items)
    assert history == [("user", "My parcel is lost."), ("assistant", "Let me get a colleague.")]
    configured = briefing_instructions(
        assistant_name="Alex", summary="Mention the order number.", history=history
    )
    assert "Mention the order number." in configured and DEFAULT_SUMMARY not in configured
    assert "Caller: My parcel is lost.\nYou: Let me get a colleague." in configured
    default = briefing_instructions(assistant_name="Alex", summary="  ", history=[])
    assert DEFAULT_SUMMARY in default and "(nothing was said yet)" in default


def _never_briefed(leg: ConsultationLeg) -> Any:
    raise AssertionError("nobody answered: there is nobody to brief")


def _attempt(telephony: TelephonyPort) -> tuple[WarmResult, Floor, HoldMusic, list[Any]]:
    async def main() -> tuple[WarmResult, Floor, HoldMusic, list[Any]]:
        floor, hold, events = Floor(deciding=False), HoldMusic(8000), []
        flow = WarmTransfer(
            telephony,
            hold=hold,
            floor=floor,
            brief=_never_briefed,
            event=lambda type, **detail: events.append((type, detail)),
            offset=lambda wall: wall,
            ring_timeout=30.0,
        )
        return await flow.run(NUMBER), floor, hold, events

    attempt: tuple[WarmResult, Floor, HoldMusic, list[Any]] = run_virtual(main)
    return attempt


def test_a_busy_colleague_ends_the_hold_and_gives_the_floor_back() -> None:
    consult = RecordedConsult(ring=2.0, answered=False, sip_status=486, sip_reason="Busy Here")
    line = RecordedLine(
        PhoneScript(consult=consult),
        hung_up=asyncio.Event(),
        playhead=lambda: 0.0,
        reached=_reached,
        consultation=_no_party,
    )
    result, floor, hold, events = _attempt(line)
    assert (result.outcome, result.leg) == ("busy", None)
    assert floor.replies and not hold.playing
    ((type, detail),) = events
    assert type == "transfer"
    assert {k: detail[k] for k in ("mode", "outcome", "reason", "sip_status")} == {
        "mode": "warm",
        "outcome": "busy",
        "reason": "the call was refused: SIP 486",
        "sip_status": 486,
    }


def test_the_console_has_no_second_line_for_a_warm_transfer() -> None:
    result, floor, hold, events = _attempt(LocalLine())
    assert result.outcome == "failed"
    assert result.reason == "the console has no second line to call a colleague on"
    assert floor.replies and not hold.playing
    assert [type for type, _ in events] == ["transfer"]


async def _reached(seconds: float) -> None:
    return None


def _no_party(hangup_at: float) -> Any:
    raise AssertionError("the colleague never answered")


def test_the_consultation_leg_is_refused_when_none_was_recorded() -> None:
    line = RecordedLine(
        PhoneScript(), hung_up=asyncio.Event(), playhead=lambda: 0.0, reached=_reached
    )
    result, _, _, _ = _attempt(line)
    assert (result.outcome, result.reason) == ("failed", "nobody answered")


def test_the_ringing_timeout_is_a_worker_setting() -> None:
    assert CallSettings.from_env({}).run_options().transfer_ring_timeout == 30.0
    settings = CallSettings.from_env({"AGENT_TRANSFER_RING_TIMEOUT": "12.5"})
    assert settings.run_options().transfer_ring_timeout == 12.5
    with pytest.raises(SettingsError, match="AGENT_TRANSFER_RING_TIMEOUT"):
        CallSettings.from_env({"AGENT_TRANSFER_RING_TIMEOUT": "0"})


def test_the_call_ending_while_it_rings_leaves_nothing_ringing() -> None:
    async def main() -> tuple[RecordedLine, Floor, HoldMusic, list[Any]]:
        line = RecordedLine(
            PhoneScript(consult=RecordedConsult(ring=10.0)),
            hung_up=asyncio.Event(),
            playhead=lambda: 0.0,
            reached=_reached,
            consultation=_no_party,
        )
        floor, hold, events = Floor(deciding=False), HoldMusic(8000), []
        flow = WarmTransfer(
            line,
            hold=hold,
            floor=floor,
            brief=_never_briefed,
            event=lambda type, **detail: events.append((type, detail)),
            offset=lambda wall: wall,
            ring_timeout=30.0,
        )
        task = asyncio.ensure_future(flow.run(NUMBER))
        await asyncio.sleep(1.0)
        assert hold.playing and not floor.replies  # on hold while it rings
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return line, floor, hold, events

    line, floor, hold, events = run_virtual(main)
    assert line.consults == [NUMBER] and line.legs == []
    assert [(type, detail["outcome"]) for type, detail in events] == [("transfer", "cancelled")]
    assert floor.replies and not hold.playing

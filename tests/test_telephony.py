"""The phone line: dialing, dial errors, keys both ways and cold transfer.

The LiveKit adapter talks through the real ``livekit-api`` client to a local server that decodes
its protobuf requests (``fakes_livekit``); room events are emitted on a real ``rtc.Room``. The
recorded calls of the phone line replay through the whole runtime.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from livekit import api, rtc
from livekit.agents import AgentSession
from livekit.protocol.sip import SIPTransferStatus, TransferSIPParticipantResponse

from agent_runtime.call.keys import PAUSE as KEYS_PAUSE
from agent_runtime.call.keys import KeyCollector
from agent_runtime.config.loading import spec_from_document
from agent_runtime.errors import CallNotRun, DialFailed, TransferFailed
from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.expect import check
from agent_runtime.replay.local_server import serve
from agent_runtime.telephony.dial_errors import DIAL_ERRORS, dial_error_of, refusal_words
from agent_runtime.telephony.dtmf import check_keys
from agent_runtime.telephony.livekit import LiveKitTelephony, OutboundDial
from agent_runtime.telephony.port import SipParticipant
from agent_runtime.worker.room import outbound_dial, wait_for_answered_caller
from agent_runtime.worker.settings import WorkerSettings

from .fakes_livekit import API_KEY, API_SECRET, FakeLiveKitServer
from .replays import replayed

CALLEE = "+14155550123"
AGENT = "+14155550100"
DIAL = OutboundDial(
    trunk_id="ST_outbound", to=CALLEE, from_number=AGENT, identity="callee", ringing_timeout=25
)


# -- the dial-error table --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (404, "Not Found", "number_non_attributed"),
        (484, None, "number_non_attributed"),
        (410, None, "number_non_attributed"),
        (604, None, "number_non_attributed"),
        (486, "Busy Here", "busy"),
        (600, None, "busy"),
        (408, None, "no_answer"),
        (480, None, "no_answer"),
        (487, None, "no_answer"),
        (403, "Forbidden", "no_international_permission"),
        (401, "International calls not allowed", "no_international_permission"),
        (503, None, "temporarily_unavailable"),
        (502, None, "temporarily_unavailable"),
        (500, None, "temporarily_unavailable"),
        (429, None, "too_many_calls"),
        (486, "Trunk concurrency limit reached", "too_many_calls"),
        (412, None, "precondition_failed"),
        (428, None, "precondition_failed"),
        (421, None, "precondition_failed"),
        (499, None, "non_classified_error"),
        (None, None, "non_classified_error"),
    ],
)
def test_each_sip_status_has_its_dial_error(
    status: int | None, reason: str | None, kind: str
) -> None:
    assert dial_error_of(status, reason) == kind


def test_the_table_covers_the_documented_statuses() -> None:
    documented = {
        404,
        484,
        410,
        604,
        486,
        600,
        408,
        480,
        487,
        403,
        503,
        502,
        500,
        429,
        412,
        428,
        421,
    }
    assert set(DIAL_ERRORS) == documented


def test_a_refused_transfer_is_told_in_plain_words() -> None:
    assert refusal_words(486) == "the line was busy"
    assert refusal_words(None, "STR_RINGING_TIMEOUT") == "nobody answered"
    assert refusal_words(404) == "the number could not be reached"


# -- keys --------------------------------------------------------------------------------------


def test_keys_are_checked_before_sending() -> None:
    assert check_keys(" 12 34#a w*") == "1234#Aw*"
    for bad in ("12x", "", "+1", "1" * 65):
        with pytest.raises(ValueError):
            check_keys(bad)


class RecordingPublisher:
    """The room's local participant as the adapter uses it: what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, int, str]] = []

    async def publish_dtmf(self, *, code: int, digit: str) -> None:
        self.sent.append((asyncio.get_running_loop().time(), code, digit))


def _line(
    lkapi: api.LiveKitAPI,
    room: rtc.Room,
    *,
    dial: OutboundDial | None = None,
    dtmf: RecordingPublisher | None = None,
) -> LiveKitTelephony:
    return LiveKitTelephony(
        lkapi,
        room=room,
        room_name="call-room",
        participant=SipParticipant("callee" if dial else "sip_caller"),
        caller_gone=asyncio.Event(),
        answered_at=None if dial else time.time(),
        dial=dial,
        dtmf=dtmf,
    )


def test_keys_are_sent_paced_with_their_codes() -> None:
    reported: list[str] = []

    async def main() -> list[tuple[float, int, str]]:
        publisher = RecordingPublisher()
        lkapi = api.LiveKitAPI("http://127.0.0.1:9", API_KEY, API_SECRET)
        try:
            line = _line(lkapi, rtc.Room(), dtmf=publisher)
            line.on_keys_sent(reported.append)
            await line.send_keys("1w#*")
        finally:
            await lkapi.aclose()
        return publisher.sent

    sent = run_virtual(main)
    assert reported == ["1w#*"]  # once, after the last key
    assert [(code, digit) for _, code, digit in sent] == [(1, "1"), (11, "#"), (10, "*")]
    times = [at - sent[0][0] for at, _, _ in sent]
    assert times == pytest.approx([0.0, 0.5 + 0.3, 0.5 + 0.6])  # the w waits half a second


def test_keys_the_caller_presses_reach_the_listener() -> None:
    async def main() -> list[str]:
        room = rtc.Room()
        lkapi = api.LiveKitAPI("http://127.0.0.1:9", API_KEY, API_SECRET)
        heard: list[str] = []
        try:
            line = _line(lkapi, room)
            line.on_keys(heard.append)
            for identity, digit in (
                ("sip_caller", "4"),
                ("someone_else", "9"),
                ("sip_caller", "#"),
            ):
                participant = SimpleNamespace(identity=identity)
                room.emit(
                    "sip_dtmf_received", SimpleNamespace(digit=digit, participant=participant)
                )
        finally:
            await lkapi.aclose()
        return heard

    assert run_virtual(main) == ["4", "#"]


# -- dialing against the LiveKit server API ----------------------------------------------------


@asynccontextmanager
async def _server(livekit: FakeLiveKitServer) -> AsyncIterator[api.LiveKitAPI]:
    async with serve(livekit.app) as url:
        lkapi = api.LiveKitAPI(url, API_KEY, API_SECRET)
        try:
            yield lkapi
        finally:
            await lkapi.aclose()


def _dial(livekit: FakeLiveKitServer) -> tuple[float | DialFailed, list[float], float]:
    async def main() -> tuple[float | DialFailed, list[float], float]:
        started = time.time()
        rang: list[float] = []
        async with _server(livekit) as lkapi:
            line = _line(lkapi, rtc.Room(), dial=DIAL)
            try:
                answered: float | DialFailed = await line.wait_for_answer(
                    ringing=lambda: rang.append(time.time() - started)
                )
            except DialFailed as failure:
                answered = failure
        return answered, rang, started

    result: tuple[float | DialFailed, list[float], float] = run_virtual(main)
    return result


def test_an_outbound_call_is_placed_on_the_trunk_and_answered() -> None:
    livekit = FakeLiveKitServer(delays={"CreateSIPParticipant": 7.0})
    answered, rang, started = _dial(livekit)
    assert isinstance(answered, float)
    assert answered - started == pytest.approx(7.0, abs=0.05)  # the ringing
    assert rang == pytest.approx([0.0], abs=0.05)
    (request,) = livekit.requests("CreateSIPParticipant")
    assert (request.sip_trunk_id, request.sip_call_to, request.sip_number) == (
        "ST_outbound",
        CALLEE,
        AGENT,
    )
    assert (request.room_name, request.participant_identity) == ("call-room", "callee")
    assert request.wait_until_answered and request.ringing_timeout.seconds == 25
    (call,) = livekit.calls
    assert call.claims.sip is not None and call.claims.sip.call


@pytest.mark.parametrize(
    ("error", "kind", "status"),
    [
        (
            (486, "resource_exhausted", {"sip_status_code": "486", "sip_status": "Busy Here"}),
            "busy",
            486,
        ),
        (
            (404, "not_found", {"sip_status_code": "404", "sip_status": "Not Found"}),
            "number_non_attributed",
            404,
        ),
        ((408, "deadline_exceeded", {"sip_status_code": "408"}), "no_answer", 408),
        ((504, "deadline_exceeded"), "no_answer", None),
        ((429, "resource_exhausted"), "too_many_calls", None),
        ((503, "unavailable", {"sip_status_code": "503"}), "temporarily_unavailable", 503),
        (
            (403, "permission_denied", {"sip_status_code": "403"}),
            "no_international_permission",
            403,
        ),
    ],
)
def test_a_call_not_answered_gets_its_dial_error(error: Any, kind: str, status: int | None) -> None:
    livekit = FakeLiveKitServer(errors={"CreateSIPParticipant": error})
    failure, rang, _ = _dial(livekit)
    assert isinstance(failure, DialFailed)
    assert (failure.dial_error, failure.sip_status) == (kind, status)
    assert rang  # it rang before it failed


# -- cold transfer ----------------------------------------------------------------------------


def _transfer(livekit: FakeLiveKitServer) -> TransferFailed | None:
    async def main() -> TransferFailed | None:
        async with _server(livekit) as lkapi:
            try:
                await _line(lkapi, rtc.Room()).transfer("+14155550177")
            except TransferFailed as failure:
                return failure
        return None

    result: TransferFailed | None = run_virtual(main)
    return result


def test_a_transfer_refers_the_caller_to_the_number() -> None:
    done = TransferSIPParticipantResponse(status=SIPTransferStatus.STS_TRANSFER_SUCCESSFUL)
    livekit = FakeLiveKitServer(replies={"TransferSIPParticipant": done})
    assert _transfer(livekit) is None
    (request,) = livekit.requests("TransferSIPParticipant")
    assert (request.participant_identity, request.room_name) == ("sip_caller", "call-room")
    assert request.transfer_to == "tel:+14155550177" and request.play_dialtone
    (call,) = livekit.calls
    assert call.claims.video is not None and call.claims.video.room_admin


def test_a_transfer_that_did_not_complete_is_refused_in_words() -> None:
    answer = TransferSIPParticipantResponse(status=SIPTransferStatus.STS_TRANSFER_FAILED)
    answer.sip_status.code = 486  # type: ignore[assignment]
    answer.sip_status.status = "Busy Here"
    failure = _transfer(FakeLiveKitServer(replies={"TransferSIPParticipant": answer}))
    assert failure is not None
    assert (failure.sip_status, failure.reason) == (486, "the line was busy")


def test_a_transfer_error_of_the_server_is_refused_in_words() -> None:
    meta = {"sip_status_code": "480", "sip_transfer_reason": "STR_RINGING_TIMEOUT"}
    failure = _transfer(
        FakeLiveKitServer(errors={"TransferSIPParticipant": (408, "deadline_exceeded", meta)})
    )
    assert failure is not None
    assert (failure.sip_status, failure.reason) == (480, "nobody answered")


# -- the worker's line -------------------------------------------------------------------------


def _spec(**call: Any) -> Any:
    document = {
        "id": "c1",
        "direction": "outbound",
        "from_phone_number": AGENT,
        "to_phone_number": CALLEE,
        "assistant": {"prompt": "Hi."},
        **call,
    }
    return spec_from_document(document)


def test_the_outbound_trunk_and_caller_id() -> None:
    env = {
        "LIVEKIT_SIP_OUTBOUND_TRUNK": "ST_default",
        "LIVEKIT_SIP_OUTBOUND_TRUNKS": "+1 415 555 0199=ST_west",
        "AGENT_RINGING_TIMEOUT": "40",
    }
    settings = WorkerSettings.from_env(env)
    dial = outbound_dial(settings, _spec())
    assert (dial.trunk_id, dial.to, dial.from_number, dial.ringing_timeout) == (
        "ST_default",
        CALLEE,
        AGENT,
        40.0,
    )
    own = _spec(assistant={"prompt": "Hi.", "from_phone_number": "+14155550199"})
    assert outbound_dial(settings, own).trunk_id == "ST_west"
    assert outbound_dial(settings, own).from_number == "+14155550199"
    with pytest.raises(CallNotRun, match="LIVEKIT_SIP_OUTBOUND_TRUNK"):
        outbound_dial(WorkerSettings.from_env({}), _spec())
    with pytest.raises(CallNotRun, match="to_phone_number"):
        outbound_dial(settings, _spec(to_phone_number=None))


def _participant(status: str | None, identity: str = "sip_caller") -> Any:
    attributes = {} if status is None else {"sip.callStatus": status}
    return SimpleNamespace(
        identity=identity, kind=rtc.ParticipantKind.PARTICIPANT_KIND_SIP, attributes=attributes
    )


def _wait(events: Callable[[rtc.Room], None], within: float = 30.0) -> SipParticipant | CallNotRun:
    async def main() -> SipParticipant | CallNotRun:
        room = rtc.Room()
        asyncio.get_running_loop().call_later(1.0, events, room)
        try:
            return await wait_for_answered_caller(room, within=within)
        except CallNotRun as failure:
            return failure

    result: SipParticipant | CallNotRun = run_virtual(main)
    return result


def test_an_inbound_caller_counts_once_its_call_is_active() -> None:
    def ring_then_answer(room: rtc.Room) -> None:
        room.emit("participant_connected", _participant("ringing"))
        asyncio.get_running_loop().call_later(
            2.0,
            room.emit,
            "participant_attributes_changed",
            ["sip.callStatus"],
            _participant("active"),
        )

    caller = _wait(ring_then_answer)
    assert caller == SipParticipant("sip_caller")


def test_the_wait_for_the_caller_is_bounded() -> None:
    failure = _wait(lambda room: room.emit("participant_connected", _participant("ringing")), 10)
    assert isinstance(failure, CallNotRun) and failure.end_reason == "caller_not_joined"


def test_a_caller_who_leaves_while_ringing_ends_the_wait() -> None:
    def leave(room: rtc.Room) -> None:
        room.emit("participant_connected", _participant("ringing"))
        room.emit("participant_disconnected", _participant("hangup"))

    failure = _wait(leave)
    assert isinstance(failure, CallNotRun) and failure.end_reason == "caller_left"


# -- recorded calls of the phone line ----------------------------------------------------------

PHONE_CALLS = [
    "outbound_answered",
    "outbound_busy",
    "outbound_no_answer",
    "outbound_not_attributed",
    "keys_account_number",
    "transfer_accepted",
    "transfer_refused",
]


@pytest.mark.replay
@pytest.mark.parametrize("name", PHONE_CALLS)
def test_recorded_phone_calls_replay_as_expected(name: str) -> None:
    result = replayed(name)
    assert check(result.call.report, result.recorded.expect) == []


@pytest.mark.replay
def test_an_outbound_call_is_answered_after_it_rang() -> None:
    report = replayed("outbound_answered").call.report
    assert report.started_at is not None and report.answered_at is not None
    assert (report.answered_at - report.started_at).total_seconds() == pytest.approx(6.0, abs=0.05)
    statuses = [e.detail["status"] for e in report.runtime.events if e.type == "status"]
    assert statuses == ["queued", "ringing", "ongoing", "completed"]
    assert report.dial_error is None and report.result == "human"


@pytest.mark.replay
@pytest.mark.parametrize(("name", "after"), [("outbound_busy", 3.0), ("outbound_no_answer", 30.0)])
def test_a_call_not_answered_is_reported_with_no_transcript(name: str, after: float) -> None:
    result = replayed(name)
    report = result.call.report
    assert (report.status, report.answered_at, report.result, report.transcript) == (
        "error",
        None,
        None,
        [],
    )
    assert report.runtime.duration == pytest.approx(after, abs=0.05)  # the ringing timeout
    statuses = [e.detail["status"] for e in report.runtime.events if e.type == "status"]
    assert statuses == ["queued", "ringing", "error"]
    assert result.llm_requests == []


def test_keys_sent_are_a_report_event_counting_them() -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    def event(type: str, **detail: Any) -> None:
        events.append((type, detail))

    async def main() -> None:
        keys = KeyCollector(AgentSession(), active=lambda: True, event=event)
        keys.sent("12w#")

    asyncio.run(main())
    assert events == [("keys_sent", {"count": 3})]


@pytest.mark.replay
def test_keys_typed_by_the_caller_are_one_turn_the_llm_answers() -> None:
    result = replayed("keys_account_number")
    asked = [r for r in result.llm_requests if "Keys pressed" in str(r.messages)]
    assert asked and "Keys pressed: 4711#" in str(asked[0].messages[-1])
    (keys,) = [e for e in result.call.report.runtime.events if e.type == "keys_received"]
    assert keys.detail == {"count": 5}
    assert keys.at - result.caller_offset >= 16.0 + 4 * 0.3  # after the last key
    assert keys.at - result.caller_offset < 16.0 + 4 * 0.3 + KEYS_PAUSE  # "#" ends the turn


@pytest.mark.replay
def test_an_accepted_transfer_ends_the_agents_part() -> None:
    result = replayed("transfer_accepted")
    report = result.call.report
    assert result.line.transfers == ["+14155550177"]
    (outcome,) = [e for e in report.runtime.events if e.type == "transfer"]
    assert outcome.detail["outcome"] == "transferred"
    assert (report.ended_by, report.end_reason) == ("agent", "transfer")
    tools = [r for r in report.transcript or [] if r.role == "tool"]
    assert [t.tool_name for t in tools] == ["transfer_to_human"]


@pytest.mark.replay
def test_a_refused_transfer_is_told_to_the_caller_and_the_call_goes_on() -> None:
    result = replayed("transfer_refused")
    report = result.call.report
    (tool,) = [r for r in report.transcript or [] if r.role == "tool"]
    assert tool.tool_is_error and "the line was busy" in (tool.tool_output or "")
    (outcome,) = [e for e in report.runtime.events if e.type == "transfer"]
    assert outcome.detail == {"outcome": "failed", "sip_status": 486, "reason": "the line was busy"}
    assert report.end_reason == "user_hangup"

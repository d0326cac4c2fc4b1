"""Warm transfer on a LiveKit line: the consultation leg, its clean-up on every path, the bridge.

The requests go through the real ``livekit-api`` client to the local server stand-in, which
decodes them (``fakes_livekit``). The rooms are real ``rtc.Room`` objects acting connected
without a media server (``ConnectedRoom``): their events are emitted by the tests, and what the
agent publishes there is a real local track, read back with ``rtc.AudioStream``. Not covered
here: joining a real server (``LiveKitRoomConnector.connect``) and the SFU's media path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from livekit import api, rtc

from agent_runtime.errors import DialFailed, TelephonyError, TransferFailed
from agent_runtime.media.bridge import BRIDGE_SAMPLE_RATE, CALLER_TRACK, CONSULTED_TRACK
from agent_runtime.media.room import TRACK_NAME
from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.local_server import serve
from agent_runtime.telephony.livekit import LiveKitTelephony, OutboundDial
from agent_runtime.telephony.livekit_consult import (
    AGENT_IDENTITY,
    CONSULTED_IDENTITY,
    DEPARTURE_TIMEOUT,
    EMPTY_TIMEOUT,
    LISTENER_TIMEOUT,
    ConsultDialing,
    LiveKitConsultation,
    LiveKitConsultations,
    LiveKitRoomConnector,
)
from agent_runtime.telephony.port import ConsultationLeg, SipParticipant
from agent_runtime.worker.job import consult_dialing
from agent_runtime.worker.settings import WorkerSettings

from .fakes_livekit import API_KEY, API_SECRET, ConnectedRoom, FakeLiveKitServer, RoomJoiner

SUPERVISOR = "+14155550177"
OUR_NUMBER = "+14155550100"
CONSULT_ROOM = "call-room-consult-1"
DIALING = ConsultDialing(trunk_id="ST_outbound", caller_id=OUR_NUMBER)


@dataclass
class Call:
    """An inbound call on a LiveKit line that can consult."""

    line: LiveKitTelephony
    room: ConnectedRoom
    joiner: RoomJoiner
    caller_gone: asyncio.Event

    @property
    def consult_room(self) -> ConnectedRoom:
        (room,) = self.joiner.rooms
        return room


@asynccontextmanager
async def _call(
    livekit: FakeLiveKitServer, *, joiner: RoomJoiner | None = None
) -> AsyncIterator[Call]:
    async with serve(livekit.app) as url:
        lkapi = api.LiveKitAPI(url, API_KEY, API_SECRET)
        joiner = joiner or RoomJoiner(livekit)
        room = ConnectedRoom("call-room")
        caller_gone = asyncio.Event()
        consultations = LiveKitConsultations(
            lkapi, call_room="call-room", dialing=DIALING, connector=joiner
        )
        line = LiveKitTelephony(
            lkapi,
            room=room,
            room_name="call-room",
            participant=SipParticipant("sip_caller", trunk_phone_number=OUR_NUMBER),
            caller_gone=caller_gone,
            answered_at=time.time(),
            consultations=consultations,
        )
        try:
            yield Call(line, room, joiner, caller_gone)
        finally:
            await lkapi.aclose()


def _run(livekit: FakeLiveKitServer, body: Callable[[Call], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``body`` on a call, on the virtual clock (a task left running fails the test)."""

    async def main() -> Any:
        async with _call(livekit) as call:
            return await body(call)

    return run_virtual(main)


def _methods(livekit: FakeLiveKitServer) -> list[tuple[str, str]]:
    """Each API request: its method, and the room it names."""
    named = []
    for call in livekit.calls:
        request: Any = call.request
        field = next(
            f for f in ("room_name", "room", "name") if f in request.DESCRIPTOR.fields_by_name
        )
        named.append((call.method, getattr(request, field)))
    return named


def _released(call: Call, *, bridged: bool = False) -> None:
    """Nothing of the consultation is left: the agent left its room, its tracks are gone."""
    consult = call.consult_room
    assert consult.disconnects == 1
    assert consult.publisher.track_names == []
    expected = [TRACK_NAME, CALLER_TRACK] if bridged else [TRACK_NAME]
    assert sorted(consult.publisher.unpublished) == sorted(expected)
    assert call.room.publisher.track_names == []


# -- dialling ----------------------------------------------------------------------------------


def test_the_number_is_dialled_into_a_room_of_its_own_then_everything_is_released() -> None:
    livekit = FakeLiveKitServer(
        delays={"CreateSIPParticipant": 6.0},
        replies={"CreateSIPParticipant": api.SIPParticipantInfo(sip_call_id="SCL_1")},
    )

    async def body(call: Call) -> tuple[float, float, list[str]]:
        started = time.time()
        leg = await call.line.consult(SUPERVISOR, ring_timeout=20)
        answered = leg.answered_at - started
        assert not call.consult_room.disconnects
        published = call.consult_room.publisher.track_names
        await leg.hang_up()
        await leg.hang_up()  # once only
        await leg.wait_for_hangup()
        _released(call)
        return answered, started, published

    answered, _, published = _run(livekit, body)
    assert answered == pytest.approx(6.0, abs=0.05)  # the ringing
    assert published == [TRACK_NAME]  # the agent's voice, there before anyone answered
    assert _methods(livekit) == [
        ("CreateRoom", CONSULT_ROOM),
        ("CreateSIPParticipant", CONSULT_ROOM),
        ("RemoveParticipant", CONSULT_ROOM),
        ("DeleteRoom", CONSULT_ROOM),
    ]
    (room,) = livekit.requests("CreateRoom")
    assert (room.empty_timeout, room.departure_timeout) == (EMPTY_TIMEOUT, DEPARTURE_TIMEOUT)
    (dial,) = livekit.requests("CreateSIPParticipant")
    assert (dial.sip_trunk_id, dial.sip_call_to, dial.sip_number) == (
        "ST_outbound",
        SUPERVISOR,
        OUR_NUMBER,
    )
    assert dial.participant_identity == CONSULTED_IDENTITY
    assert dial.wait_until_answered and dial.ringing_timeout.seconds == 20
    (removed,) = livekit.requests("RemoveParticipant")
    assert removed.identity == CONSULTED_IDENTITY


def test_a_hang_up_the_server_refuses_still_releases_the_agents_side(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = (500, "internal")
    livekit = FakeLiveKitServer(errors={"RemoveParticipant": refused, "DeleteRoom": refused})

    async def body(call: Call) -> None:
        leg = await call.line.consult(SUPERVISOR, ring_timeout=20)
        await leg.hang_up()  # does not raise
        _released(call)

    _run(livekit, body)
    assert [m for m, _ in _methods(livekit)][2:] == ["RemoveParticipant", "DeleteRoom"]
    assert "the consultation leg was not fully released" in caplog.text


def test_the_agent_joins_the_room_before_the_number_is_dialled() -> None:
    livekit = FakeLiveKitServer()

    async def body(call: Call) -> None:
        leg = await call.line.consult(SUPERVISOR, ring_timeout=20)
        await leg.hang_up()

    joiner_calls: list[list[str]] = []

    async def main() -> None:
        async with _call(livekit) as call:
            await body(call)
            joiner_calls.extend(call.joiner.requests_before_join)

    run_virtual(main)
    assert joiner_calls == [["CreateRoom"]]


@pytest.mark.parametrize(
    ("listener_after", "returned"),
    [(1.0, 4.0), (5.5, 5.5), (None, 4.0 + LISTENER_TIMEOUT)],
    ids=["heard-while-ringing", "heard-after-the-answer", "never-heard"],
)
def test_consult_returns_once_the_consulted_person_hears_the_agent(
    listener_after: float | None, returned: float
) -> None:
    livekit = FakeLiveKitServer(delays={"CreateSIPParticipant": 4.0})

    async def main() -> tuple[float, float]:
        joiner = RoomJoiner(livekit, listener_after=listener_after)
        async with _call(livekit, joiner=joiner) as call:
            started = time.time()
            leg = await call.line.consult(SUPERVISOR, ring_timeout=20)
            done = time.time() - started
            await leg.hang_up()
            return leg.answered_at - started, done

    answered, done = run_virtual(main)
    assert answered == pytest.approx(4.0, abs=0.05)
    assert done == pytest.approx(returned, abs=0.05)


@pytest.mark.parametrize(
    ("error", "kind", "status"),
    [
        (
            (486, "resource_exhausted", {"sip_status_code": "486", "sip_status": "Busy Here"}),
            "busy",
            486,
        ),
        ((408, "deadline_exceeded", {"sip_status_code": "480"}), "no_answer", 480),
        ((504, "deadline_exceeded"), "no_answer", None),
        (
            (603, "permission_denied", {"sip_status_code": "603", "sip_status": "Decline"}),
            "non_classified_error",
            603,
        ),
        ((503, "unavailable", {"sip_status_code": "503"}), "temporarily_unavailable", 503),
    ],
)
def test_a_leg_not_answered_is_a_dial_failure_and_leaves_nothing(
    error: Any, kind: str, status: int | None
) -> None:
    livekit = FakeLiveKitServer(
        errors={"CreateSIPParticipant": error}, delays={"CreateSIPParticipant": 4.0}
    )

    async def body(call: Call) -> DialFailed:
        with pytest.raises(DialFailed) as failure:
            await call.line.consult(SUPERVISOR, ring_timeout=20)
        _released(call)
        return failure.value

    failure = _run(livekit, body)
    assert (failure.dial_error, failure.sip_status) == (kind, status)
    assert _methods(livekit) == [
        ("CreateRoom", CONSULT_ROOM),
        ("CreateSIPParticipant", CONSULT_ROOM),
        ("RemoveParticipant", CONSULT_ROOM),
        ("DeleteRoom", CONSULT_ROOM),
    ]


def test_a_room_that_cannot_be_joined_is_deleted() -> None:
    livekit = FakeLiveKitServer()

    async def main() -> TelephonyError:
        joiner = RoomJoiner(livekit, fail=ConnectionError("no media server"))
        async with _call(livekit, joiner=joiner) as call:
            with pytest.raises(TelephonyError) as failure:
                await call.line.consult(SUPERVISOR, ring_timeout=20)
            return failure.value

    failure = run_virtual(main)
    assert "joining the consultation room failed: ConnectionError" in str(failure)
    assert _methods(livekit) == [
        ("CreateRoom", CONSULT_ROOM),
        ("RemoveParticipant", CONSULT_ROOM),
        ("DeleteRoom", CONSULT_ROOM),
    ]


def test_a_second_consultation_gets_a_room_of_its_own() -> None:
    livekit = FakeLiveKitServer()

    async def body(call: Call) -> None:
        first = await call.line.consult(SUPERVISOR, ring_timeout=20)
        await first.hang_up()
        second = await call.line.consult(SUPERVISOR, ring_timeout=20)
        await second.hang_up()

    _run(livekit, body)
    created = [request.name for request in livekit.requests("CreateRoom")]
    deleted = [request.room for request in livekit.requests("DeleteRoom")]
    assert created == deleted == [CONSULT_ROOM, "call-room-consult-2"]


def test_a_line_without_an_outbound_trunk_cannot_consult() -> None:
    async def main() -> TransferFailed:
        lkapi = api.LiveKitAPI("http://127.0.0.1:9", API_KEY, API_SECRET)
        try:
            line = LiveKitTelephony(
                lkapi,
                room=rtc.Room(),
                room_name="call-room",
                participant=SipParticipant("sip_caller"),
                caller_gone=asyncio.Event(),
                answered_at=time.time(),
            )
            with pytest.raises(TransferFailed) as failure:
                await line.consult(SUPERVISOR, ring_timeout=20)
            return failure.value
        finally:
            await lkapi.aclose()

    failure = run_virtual(main)
    assert "no outbound trunk" in str(failure)


# -- the caller or the call ending while it rings -------------------------------------------------


def test_the_caller_hanging_up_while_it_rings_ends_the_leg() -> None:
    livekit = FakeLiveKitServer(delays={"CreateSIPParticipant": 30.0})

    async def body(call: Call) -> tuple[TelephonyError, float]:
        started = time.time()
        asyncio.get_running_loop().call_later(3.0, call.caller_gone.set)
        with pytest.raises(TelephonyError) as failure:
            await call.line.consult(SUPERVISOR, ring_timeout=30)
        _released(call)
        return failure.value, time.time() - started

    failure, after = _run(livekit, body)
    assert not isinstance(failure, DialFailed)
    assert "the caller hung up" in str(failure)
    assert after == pytest.approx(3.0, abs=0.1)  # the ringing was not waited for
    assert _methods(livekit)[2:] == [
        ("RemoveParticipant", CONSULT_ROOM),
        ("DeleteRoom", CONSULT_ROOM),
    ]


def test_the_call_hung_up_while_it_rings_hangs_up_the_leg_too() -> None:
    livekit = FakeLiveKitServer(delays={"CreateSIPParticipant": 30.0})

    async def body(call: Call) -> BaseException | None:
        consulting = asyncio.create_task(call.line.consult(SUPERVISOR, ring_timeout=30))
        await asyncio.sleep(3.0)
        await call.line.hang_up()
        (outcome,) = await asyncio.gather(consulting, return_exceptions=True)
        _released(call)
        return outcome if isinstance(outcome, BaseException) else None

    outcome = _run(livekit, body)
    assert isinstance(outcome, TelephonyError) and "hung up before it answered" in str(outcome)
    assert _methods(livekit)[2:] == [
        ("RemoveParticipant", CONSULT_ROOM),
        ("DeleteRoom", CONSULT_ROOM),
        ("DeleteRoom", "call-room"),
    ]


def test_the_call_hung_up_while_the_agent_joins_the_room_dials_nobody() -> None:
    livekit = FakeLiveKitServer()

    async def main() -> tuple[BaseException | None, int]:
        joiner = RoomJoiner(livekit, delay=5.0)
        async with _call(livekit, joiner=joiner) as call:
            consulting = asyncio.create_task(call.line.consult(SUPERVISOR, ring_timeout=30))
            await asyncio.sleep(2.0)
            await call.line.hang_up()
            (outcome,) = await asyncio.gather(consulting, return_exceptions=True)
            return (outcome if isinstance(outcome, BaseException) else None), len(joiner.rooms)

    outcome, joined = run_virtual(main)
    assert isinstance(outcome, TelephonyError) and "hung up before it answered" in str(outcome)
    assert joined == 0
    assert _methods(livekit) == [
        ("CreateRoom", CONSULT_ROOM),
        ("RemoveParticipant", CONSULT_ROOM),
        ("DeleteRoom", CONSULT_ROOM),
        ("DeleteRoom", "call-room"),
    ]


def test_a_consultation_cancelled_while_it_rings_is_released() -> None:
    livekit = FakeLiveKitServer(delays={"CreateSIPParticipant": 30.0})

    async def body(call: Call) -> None:
        consulting = asyncio.create_task(call.line.consult(SUPERVISOR, ring_timeout=30))
        await asyncio.sleep(3.0)
        consulting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consulting
        _released(call)

    _run(livekit, body)
    assert _methods(livekit)[2:] == [
        ("RemoveParticipant", CONSULT_ROOM),
        ("DeleteRoom", CONSULT_ROOM),
    ]


def test_no_leg_is_dialled_once_the_caller_has_gone() -> None:
    livekit = FakeLiveKitServer()

    async def body(call: Call) -> None:
        call.caller_gone.set()
        with pytest.raises(TelephonyError):
            await call.line.consult(SUPERVISOR, ring_timeout=30)

    _run(livekit, body)
    assert livekit.calls == []


# -- the answered leg ----------------------------------------------------------------------------


def _person(identity: str) -> Any:
    return SimpleNamespace(identity=identity)


def test_the_consulted_persons_keys_and_hang_up_are_theirs_only() -> None:
    livekit = FakeLiveKitServer()

    async def body(call: Call) -> tuple[list[str], bool, bool]:
        leg = await call.line.consult(SUPERVISOR, ring_timeout=20)
        keys: list[str] = []
        leg.on_keys(keys.append)
        room = call.consult_room
        for identity, digit in ((CONSULTED_IDENTITY, "1"), ("someone_else", "9")):
            room.emit(
                "sip_dtmf_received", SimpleNamespace(digit=digit, participant=_person(identity))
            )
        room.emit("participant_disconnected", _person("someone_else"))
        waiting = asyncio.create_task(leg.wait_for_hangup())
        await asyncio.sleep(1.0)
        still_on = not waiting.done()
        room.emit("participant_disconnected", _person(CONSULTED_IDENTITY))
        await asyncio.sleep(0)
        gone = waiting.done()
        await waiting
        await call.line.hang_up()  # the call ends: the leg is released with it
        _released(call)
        return keys, still_on, gone

    keys, still_on, gone = _run(livekit, body)
    assert keys == ["1"]
    assert still_on and gone
    assert _methods(livekit)[2:] == [
        ("RemoveParticipant", CONSULT_ROOM),
        ("DeleteRoom", CONSULT_ROOM),
        ("DeleteRoom", "call-room"),
    ]


def test_connect_refuses_a_leg_that_hung_up_or_is_not_the_calls() -> None:
    livekit = FakeLiveKitServer()

    async def body(call: Call) -> None:
        leg = await call.line.consult(SUPERVISOR, ring_timeout=20)
        await leg.hang_up()
        with pytest.raises(TelephonyError, match="hung up"):
            await call.line.connect(leg)
        stranger = LiveKitConsultation(
            api.LiveKitAPI("http://127.0.0.1:9", API_KEY, API_SECRET), "x"
        )
        try:
            with pytest.raises(TelephonyError, match="not a consultation leg of this call"):
                await call.line.connect(stranger)
        finally:
            await stranger._api.aclose()

    _run(livekit, body)


# -- the bridge ----------------------------------------------------------------------------------

FRAME = BRIDGE_SAMPLE_RATE // 50
CLICK_AT = 300


async def _speak(source: rtc.AudioSource, stop: asyncio.Event) -> None:
    """Silence with one loud sample in every tenth 20 ms frame, paced in real time."""
    index = 0
    while not stop.is_set():
        samples = np.zeros(FRAME, dtype=np.int16)
        if index % 10 == 5:
            samples[CLICK_AT] = 20000
        await source.capture_frame(rtc.AudioFrame(samples.tobytes(), BRIDGE_SAMPLE_RATE, 1, FRAME))
        await asyncio.sleep(0.02)
        index += 1


async def _hears_click(track: rtc.Track) -> bool:
    """Whether a click comes out of ``track`` (bounded wait, no timing asserted)."""
    stream = rtc.AudioStream.from_track(track=track, sample_rate=BRIDGE_SAMPLE_RATE, num_channels=1)
    try:
        async with asyncio.timeout(10):
            async for event in stream:
                if np.abs(np.frombuffer(event.frame.data, dtype=np.int16)).max() > 10000:
                    return True
    except TimeoutError:
        return False
    finally:
        await stream.aclose()
    return False


def _subscribe(room: rtc.Room, identity: str, track: rtc.Track) -> None:
    publication = SimpleNamespace(source=rtc.TrackSource.SOURCE_MICROPHONE, sid=f"pub_{identity}")
    room.emit("track_subscribed", track, publication, _person(identity))


def test_connected_caller_and_consulted_person_hear_each_other_until_the_end() -> None:
    livekit = FakeLiveKitServer()

    async def main() -> dict[str, Any]:
        async with _call(livekit) as call:
            stop = asyncio.Event()
            voices = {
                who: rtc.AudioSource(BRIDGE_SAMPLE_RATE, 1, queue_size_ms=60)
                for who in ("sip_caller", CONSULTED_IDENTITY)
            }
            tracks = {
                who: rtc.LocalAudioTrack.create_audio_track(who, source)
                for who, source in voices.items()
            }
            speakers = [asyncio.create_task(_speak(s, stop)) for s in voices.values()]
            # the caller's track was subscribed long before; the supervisor's comes after
            call.room.add_caller("sip_caller", tracks["sip_caller"])
            leg: ConsultationLeg = await call.line.consult(SUPERVISOR, ring_timeout=20)
            await call.line.connect(leg)
            consult = call.consult_room
            _subscribe(consult, CONSULTED_IDENTITY, tracks[CONSULTED_IDENTITY])
            seen: dict[str, Any] = {
                "caller_room": call.room.publisher.track_names,
                "consult_room": consult.publisher.track_names,
            }
            try:
                seen["consulted_hears_caller"] = await _hears_click(
                    consult.publisher.track(CALLER_TRACK)
                )
                seen["caller_hears_consulted"] = await _hears_click(
                    call.room.publisher.track(CONSULTED_TRACK)
                )
                with pytest.raises(TelephonyError, match="already connected"):
                    await call.line.connect(leg)
                consult.emit("participant_disconnected", _person(CONSULTED_IDENTITY))
                await leg.wait_for_hangup()
                await call.line.hang_up()
                _released(call, bridged=True)
                seen["caller_room_unpublished"] = sorted(call.room.publisher.unpublished)
            finally:
                stop.set()
                await asyncio.gather(*speakers)
                for source in voices.values():
                    await source.aclose()
        seen["left_running"] = sorted(
            getattr(task.get_coro(), "__qualname__", "?")
            for task in asyncio.all_tasks()
            if task is not asyncio.current_task() and not task.done()
        )
        return seen

    seen = asyncio.run(main())
    assert seen["caller_room"] == [CONSULTED_TRACK]  # the agent's own track is RoomMedia's
    assert seen["consult_room"] == sorted([TRACK_NAME, CALLER_TRACK])
    assert seen["consulted_hears_caller"] and seen["caller_hears_consulted"]
    assert seen["caller_room_unpublished"] == [CONSULTED_TRACK]
    assert seen["left_running"] == []
    assert _methods(livekit)[2:] == [
        ("RemoveParticipant", CONSULT_ROOM),
        ("DeleteRoom", CONSULT_ROOM),
        ("DeleteRoom", "call-room"),
    ]


# -- the worker's choice of trunk and caller id ----------------------------------------------------


def test_a_call_consults_from_its_own_number_on_that_numbers_trunk() -> None:
    settings = WorkerSettings.from_env(
        {
            "LIVEKIT_SIP_OUTBOUND_TRUNK": "ST_default",
            "LIVEKIT_SIP_OUTBOUND_TRUNKS": "+14155550199=ST_west",
        }
    )
    inbound = SipParticipant("sip_caller", trunk_phone_number="+14155550199")
    assert consult_dialing(settings, None, inbound) == ConsultDialing("ST_west", "+14155550199")
    other = SipParticipant("sip_caller", trunk_phone_number=OUR_NUMBER)
    assert consult_dialing(settings, None, other) == ConsultDialing("ST_default", OUR_NUMBER)
    dial = OutboundDial("ST_own", "+14155550123", OUR_NUMBER, "callee", 30)
    own = consult_dialing(settings, dial, SipParticipant("callee"))
    assert own == ConsultDialing("ST_own", OUR_NUMBER)
    assert consult_dialing(WorkerSettings.from_env({}), None, other) is None


# -- the agent's token for the consultation room -------------------------------------------------


def test_the_agent_joins_with_a_token_for_that_room_only() -> None:
    env = {
        "LIVEKIT_URL": "https://lk.example",
        "LIVEKIT_API_KEY": API_KEY,
        "LIVEKIT_API_SECRET": API_SECRET,
    }
    claims = api.TokenVerifier(API_KEY, API_SECRET).verify(
        LiveKitRoomConnector(env).token(CONSULT_ROOM)
    )
    assert claims.identity == AGENT_IDENTITY and claims.kind == "agent"
    assert claims.video is not None
    assert (claims.video.room, claims.video.room_join) == (CONSULT_ROOM, True)
    assert claims.video.can_publish and claims.video.can_subscribe and not claims.video.room_admin


def test_a_worker_without_its_server_variables_says_which_are_missing() -> None:
    connector = LiveKitRoomConnector({"LIVEKIT_URL": "ws://127.0.0.1:7880"})
    with pytest.raises(TelephonyError, match="LIVEKIT_API_KEY, LIVEKIT_API_SECRET not set"):
        connector.token(CONSULT_ROOM)

"""The worker's job, run in the framework's fake job context.

The outside world is faked at its network boundary: a local twirp server stands in for the
LiveKit server API (the real ``livekit-api`` client sends it DeleteRoom), a local config
endpoint serves call configs, and a recorded call plays the caller (replayed media, recorded
transcripts, a scripted OpenAI-compatible server for the real ``openai`` plugin).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from livekit import api, rtc
from livekit.agents import JobExecutorType, JobProcess, inference
from livekit.agents.testing import fake_job_context

from agent_runtime.commands import worker as worker_command
from agent_runtime.config.spec import CallSpec
from agent_runtime.errors import SettingsError, TelephonyError
from agent_runtime.integrations.settings import IntegrationSettings
from agent_runtime.media.room import (
    AudioSourceSink,
    RoomMedia,
    TrackAudioInput,
)
from agent_runtime.offline_tts import OfflineTTS
from agent_runtime.providers import Providers, build_turn_detector, build_vad
from agent_runtime.replay.clock import InlineExecutor, run_virtual
from agent_runtime.replay.expect import check
from agent_runtime.replay.llm_server import ScriptedLLMServer
from agent_runtime.replay.local_server import serve
from agent_runtime.replay.media import ReplayMedia
from agent_runtime.replay.recorded_call import RecordedCall
from agent_runtime.replay.run import recorded_services
from agent_runtime.replay.stt import ReplaySTT
from agent_runtime.report.model import CallReport
from agent_runtime.telephony.livekit import CallerPresence, LiveKitTelephony
from agent_runtime.telephony.port import SipParticipant
from agent_runtime.worker.job import CallLine, JobOutcome, finish_call_job, run_call_job
from agent_runtime.worker.room import outbound_dial
from agent_runtime.worker.server import VAD_KEY, env_providers, prewarm
from agent_runtime.worker.settings import WorkerSettings

from .conftest import FIXTURES
from .fakes_livekit import API_KEY, API_SECRET, ConfigEndpoint, FakeLiveKitServer
from .test_outbox import SECRET as WEBHOOK_SECRET
from .test_outbox import Receiver

ORDER_STATUS = FIXTURES / "calls" / "order_status"
FAKE_ROOM = "fake-room"
"""The room of ``fake_job_context()``'s job."""
CALLER_NUMBER = "+14155550123"
CONFIG_TOKEN = "cfg-token-7c1e"


# -- a recorded call as the job's caller -------------------------------------------------------


class ReplayedLine:
    """Connects a job to a recorded call: replayed media, recorded transcripts, scripted LLM."""

    def __init__(self, recorded: RecordedCall, llm_url: str, *, ringing: float = 0.0) -> None:
        """``ringing``: seconds between the answer and the end of ``connect`` (the media)."""
        self.recorded = recorded
        self.llm_url = llm_url
        self.media = ReplayMedia(recorded)
        self.ringing = ringing
        self.connected = 0
        self.closed = 0

    async def connect(self, ctx: Any, settings: WorkerSettings, spec: CallSpec) -> CallLine:
        """The recorded caller's line; an outbound call is left to dial (the callee's media
        plays from the answer, as the room's track would)."""
        self.connected += 1
        if spec.call.direction == "outbound":
            dial = outbound_dial(settings, spec)
            return CallLine(
                media=self.media,
                participant=SipParticipant(dial.identity, dial.from_number),
                caller_gone=self.media.caller_audio.hung_up,
                answered_at=None,
                dial=dial,
                close=self._close,
            )
        answered_at = time.time()
        await asyncio.sleep(self.ringing)
        return CallLine(
            media=self.media,
            participant=SipParticipant("sip_caller"),
            caller_gone=self.media.caller_audio.hung_up,
            answered_at=answered_at,
            close=self._close,
        )

    async def _close(self) -> None:
        self.closed += 1

    def providers(self, spec: CallSpec) -> Providers:
        from livekit.plugins import openai

        return Providers(
            stt=ReplaySTT(list(self.recorded.stt.utterances), self.media.playhead),
            llm=openai.LLM(model="gpt-4.1", base_url=self.llm_url, api_key="replay"),
            tts=OfflineTTS(engine="synthetic"),
            vad=build_vad(InlineExecutor()),
            turn_detector=build_turn_detector(),
        )


class NoLine:
    """A line factory for calls that must never be connected."""

    def __init__(self) -> None:
        self.connected = 0

    async def connect(self, ctx: Any, settings: WorkerSettings, spec: CallSpec) -> CallLine:
        self.connected += 1
        raise AssertionError("a call that cannot run was connected")


@pytest.fixture
def livekit_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Points the job's LiveKit API client (``JobContext.api``) at a local server."""

    def point_at(url: str) -> None:
        monkeypatch.setenv("LIVEKIT_URL", url)
        monkeypatch.setenv("LIVEKIT_API_KEY", API_KEY)
        monkeypatch.setenv("LIVEKIT_API_SECRET", API_SECRET)

    return point_at


def _call_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((ORDER_STATUS / "call.json").read_text())
    return document


def _saved(outcome: JobOutcome) -> dict[str, Any]:
    assert outcome.report_path is not None
    saved: dict[str, Any] = json.loads(outcome.report_path.read_text())
    return saved


# -- a call that runs --------------------------------------------------------------------------


@asynccontextmanager
async def _recorded_line(
    livekit: FakeLiveKitServer,
    livekit_env: Callable[[str], None],
    folder: Path = ORDER_STATUS,
    *,
    ringing: float = 0.0,
) -> AsyncIterator[tuple[IntegrationSettings, ReplayedLine]]:
    """The LiveKit server API and a recorded caller (order status by default), its LLM and its
    services; yields the services' settings and the line."""
    recorded = RecordedCall.load(folder)
    llm = ScriptedLLMServer(recorded.llm, model="gpt-4.1")
    async with (
        serve(livekit.app) as livekit_url,
        serve(llm.app) as llm_url,
        recorded_services(recorded, {}) as (integrations, _),
    ):
        livekit_env(livekit_url)
        yield integrations, ReplayedLine(recorded, f"{llm_url}/v1", ringing=ringing)


async def _run_job(
    line: ReplayedLine, env: dict[str, str], integrations: IntegrationSettings, metadata: str
) -> JobOutcome:
    """The job as the worker runs it: the call, then its after-call steps."""
    settings = WorkerSettings.from_env(env).model_copy(update={"integrations": integrations})
    with fake_job_context(job_metadata=metadata) as ctx:
        outcome = await run_call_job(
            ctx, settings, connect_line=line.connect, make_providers=line.providers
        )
    return await finish_call_job(outcome, settings)


@pytest.mark.parametrize("metadata_kind", ["inline", "reference"])
def test_call_runs_through_the_runner_and_is_hung_up_with_delete_room(
    metadata_kind: str,
    tmp_path: Path,
    livekit_env: Callable[[str], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorded = RecordedCall.load(ORDER_STATUS)
    document = _call_document()
    livekit = FakeLiveKitServer()
    configs = ConfigEndpoint({"call_order_status": document})

    async def job() -> tuple[JobOutcome, ReplayedLine]:
        async with (
            serve(configs.app) as config_url,
            _recorded_line(livekit, livekit_env) as (integrations, line),
        ):
            env = {
                "AGENT_REPORT_DIR": str(tmp_path),
                "AGENT_CLIP_CACHE_DIR": str(tmp_path / "clips"),
            }
            metadata = json.dumps(document)
            if metadata_kind == "reference":
                env["AGENT_CONFIG_URL"] = f"{config_url}/calls/{{call_id}}"
                env["AGENT_CONFIG_TOKEN"] = CONFIG_TOKEN
                metadata = json.dumps({"call_id": "call_order_status"})
            return await _run_job(line, env, integrations, metadata), line

    with caplog.at_level(logging.INFO, logger="agent_runtime"):
        outcome, line = run_virtual(job)

    report = outcome.report
    assert check(report, recorded.expect) == []
    assert report.status == "completed"
    assert line.connected == 1 and line.closed == 1
    # the hang-up is a real DeleteRoom request, signed with the API key and secret
    assert livekit.rejected == []
    assert [r.room for r in livekit.requests("DeleteRoom")] == [FAKE_ROOM]
    (call,) = livekit.calls
    assert call.content_type == "application/protobuf"
    assert call.claims.video is not None and call.claims.video.room_create
    # the report is written under AGENT_REPORT_DIR/<call id>/<attempt id>/
    assert outcome.report_path == tmp_path / "call_order_status" / report.id / "report.json"
    assert _saved(outcome)["end_reason"] == "user_hangup"
    # the greeting has no prompt variable: later job processes play it from the clip store
    assert list((tmp_path / "clips").glob("*.wav"))
    if metadata_kind == "reference":
        assert configs.requests == [("call_order_status", f"Bearer {CONFIG_TOKEN}")]
    else:
        assert configs.requests == []
    # one INFO summary, with no phone number, transcript or secret in any INFO line
    summaries = [r.getMessage() for r in caplog.records if "ended:" in r.getMessage()]
    assert len(summaries) == 1
    assert "call_order_status" in summaries[0] and "end_reason=user_hangup" in summaries[0]
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    for line_text in info:
        for private in (CALLER_NUMBER, "where my order is", "crm-live-7f3a9c2e", API_SECRET):
            assert private not in line_text


def test_endpointing_delays_from_the_environment_reach_the_call(
    tmp_path: Path, livekit_env: Callable[[str], None]
) -> None:
    # the recorded caller's turns are complete (their words say so): with the default 0.2 s
    # minimum delay they are committed 0.2 s after the caller stopped; with 0.6 s, after 0.6 s
    async def job() -> JobOutcome:
        async with _recorded_line(FakeLiveKitServer(), livekit_env) as (integrations, line):
            env = {
                "AGENT_REPORT_DIR": str(tmp_path),
                "AGENT_CLIP_CACHE_DIR": "off",
                "AGENT_MIN_ENDPOINTING_DELAY": "0.6",
            }
            return await _run_job(line, env, integrations, json.dumps(_call_document()))

    outcome = run_virtual(job)
    delays = [row.end_of_turn_delay for row in outcome.report.runtime.latency]
    assert delays and all(d is not None and 0.55 <= d <= 0.8 for d in delays), delays


def test_max_duration_counts_from_the_answer_not_from_the_media(
    tmp_path: Path, livekit_env: Callable[[str], None]
) -> None:
    # the callee answered, then the agent's track took 4 s to be subscribed: the 20 s limit of
    # the max_duration call still ends it 20 s after the answer
    folder = FIXTURES / "calls" / "max_duration"

    async def job() -> JobOutcome:
        async with _recorded_line(FakeLiveKitServer(), livekit_env, folder, ringing=4.0) as (
            integrations,
            line,
        ):
            env = {"AGENT_REPORT_DIR": str(tmp_path), "AGENT_CLIP_CACHE_DIR": "off"}
            document = json.loads((folder / "call.json").read_text())
            return await _run_job(line, env, integrations, json.dumps(document))

    report = run_virtual(job).report
    assert report.end_reason == "max_duration"
    assert report.started_at is not None and report.answered_at is not None
    answered = (report.answered_at - report.started_at).total_seconds()
    (reached,) = [e.at for e in report.runtime.events if e.type == "max_duration_reached"]
    assert reached - answered == pytest.approx(20.0, abs=0.05)
    (started,) = [e.at for e in report.runtime.events if e.type == "call_started"]
    assert started - answered == pytest.approx(4.0, abs=0.05)


def _outbound_job(
    tmp_path: Path, livekit: FakeLiveKitServer, livekit_env: Callable[[str], None]
) -> JobOutcome:
    folder = FIXTURES / "calls" / "outbound_answered"

    async def job() -> JobOutcome:
        async with _recorded_line(livekit, livekit_env, folder) as (integrations, line):
            env = {
                "AGENT_REPORT_DIR": str(tmp_path),
                "AGENT_CLIP_CACHE_DIR": "off",
                "LIVEKIT_SIP_OUTBOUND_TRUNK": "ST_outbound",
            }
            document = json.loads((folder / "call.json").read_text())
            return await _run_job(line, env, integrations, json.dumps(document))

    outcome: JobOutcome = run_virtual(job)
    return outcome


def test_an_outbound_job_dials_the_callee_then_runs_the_call(
    tmp_path: Path, livekit_env: Callable[[str], None], caplog: pytest.LogCaptureFixture
) -> None:
    livekit = FakeLiveKitServer(delays={"CreateSIPParticipant": 6.0})
    with caplog.at_level(logging.INFO, logger="agent_runtime"):
        outcome = _outbound_job(tmp_path, livekit, livekit_env)
    report = outcome.report
    assert check(report, RecordedCall.load(FIXTURES / "calls/outbound_answered").expect) == []
    (dial,) = livekit.requests("CreateSIPParticipant")
    assert (dial.room_name, dial.participant_identity, dial.sip_trunk_id) == (
        FAKE_ROOM,
        "callee",
        "ST_outbound",
    )
    assert (dial.sip_call_to, dial.sip_number) == ("+14155550123", "+14155550100")
    assert [r.room for r in livekit.requests("DeleteRoom")] == [FAKE_ROOM]
    assert report.started_at is not None and report.answered_at is not None
    assert (report.answered_at - report.started_at).total_seconds() == pytest.approx(6, abs=0.1)
    # each status is logged as it happens, without the phone numbers
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("call ")]
    statuses = [m.split(": ")[-1] for m in logged if ": " in m and "ended" not in m]
    assert statuses == ["queued", "ringing", "ongoing", "completed"]
    assert not any("+1415" in m for m in logged)


def test_an_outbound_job_not_answered_reports_its_dial_error(
    tmp_path: Path, livekit_env: Callable[[str], None]
) -> None:
    busy = {"sip_status_code": "486", "sip_status": "Busy Here"}
    livekit = FakeLiveKitServer(errors={"CreateSIPParticipant": (486, "resource_exhausted", busy)})
    outcome = _outbound_job(tmp_path, livekit, livekit_env)
    report = outcome.report
    assert (report.status, report.dial_error, report.end_reason) == ("error", "busy", "dial_error")
    assert report.transcript == [] and report.answered_at is None
    assert [r.room for r in livekit.requests("DeleteRoom")] == [FAKE_ROOM]
    assert _saved(outcome)["dial_error"] == "busy"


def test_status_changes_and_the_end_are_delivered_as_signed_webhooks(
    tmp_path: Path, livekit_env: Callable[[str], None]
) -> None:
    folder = FIXTURES / "calls" / "outbound_answered"
    receiver = Receiver()

    async def job() -> JobOutcome:
        async with (
            serve(receiver.app) as hooks,
            _recorded_line(FakeLiveKitServer(), livekit_env, folder) as (integrations, line),
        ):
            env = {
                "AGENT_REPORT_DIR": str(tmp_path),
                "AGENT_CLIP_CACHE_DIR": "off",
                "LIVEKIT_SIP_OUTBOUND_TRUNK": "ST_outbound",
                "WEBHOOK_STATUS_EVENTS": "true",
                "WEBHOOK_SIGNING_SECRET": WEBHOOK_SECRET,
            }
            local = integrations.http_tools.model_copy(update={"allow": frozenset({"127.0.0.1"})})
            document = json.loads((folder / "call.json").read_text())
            document["call"]["assistant"]["webhook_url"] = f"{hooks}/hook"
            return await _run_job(
                line,
                env,
                integrations.model_copy(update={"http_tools": local}),
                json.dumps(document),
            )

    outcome = run_virtual(job)
    events = [(e["type"], e["call_attempt"]["status"]) for e in receiver.verified]
    assert events == [
        ("call.status", "queued"),
        ("call.status", "ringing"),
        ("call.status", "ongoing"),
        ("call.status", "completed"),
        ("call.ended", "completed"),
    ]
    ids = [headers["webhook-id"] for headers, _ in receiver.received]
    assert len(set(ids)) == 5 and ids[-1] == f"msg_{outcome.report.id}"


# -- calls that cannot run ---------------------------------------------------------------------


async def _run_unrunnable(
    metadata: str,
    env: dict[str, str],
    livekit: FakeLiveKitServer,
    livekit_env: Callable[[str], None],
    make_providers: Callable[[CallSpec], Providers] | None = None,
) -> JobOutcome:
    line = NoLine()

    def no_providers(spec: CallSpec) -> Providers:
        raise AssertionError("providers were built for a call that cannot run")

    async with serve(livekit.app) as livekit_url:
        livekit_env(livekit_url)
        settings = WorkerSettings.from_env(env)
        with fake_job_context(job_metadata=metadata) as ctx:
            outcome = await run_call_job(
                ctx,
                settings,
                connect_line=line.connect,
                make_providers=make_providers or no_providers,
            )
        outcome = await finish_call_job(outcome, settings)
    assert line.connected == 0
    return outcome


def _assert_not_run(report: CallReport, end_reason: str) -> None:
    assert report.status == "error"
    assert report.ended_by == "system"
    assert report.end_reason == end_reason
    assert report.transcript == []
    assert [e.type for e in report.runtime.events] == ["hung_up"]


def _invalid_mode() -> str:
    document = _call_document()
    document["call"]["assistant"]["first_sentence_mode"] = "sometimes"
    return json.dumps(document)


@pytest.mark.parametrize(
    ("metadata", "folder", "error_part"),
    [
        ("", "job-fake-job", "is empty"),
        ("{not json", "job-fake-job", "not valid JSON"),
        (_invalid_mode(), "call_order_status", "$.call.assistant.first_sentence_mode"),
        ('{"call_id": "call_9"}', "call_9", "AGENT_CONFIG_URL is not set"),
    ],
)
async def test_invalid_config_is_hung_up_and_reported(
    metadata: str,
    folder: str,
    error_part: str,
    tmp_path: Path,
    livekit_env: Callable[[str], None],
) -> None:
    livekit = FakeLiveKitServer()
    outcome = await _run_unrunnable(
        metadata, {"AGENT_REPORT_DIR": str(tmp_path)}, livekit, livekit_env
    )

    _assert_not_run(outcome.report, "invalid_config")
    assert error_part in (outcome.report.runtime.error or "")
    assert [r.room for r in livekit.requests("DeleteRoom")] == [FAKE_ROOM]
    assert outcome.report_path == tmp_path / folder / outcome.report.id / "report.json"
    saved = _saved(outcome)
    assert saved["end_reason"] == "invalid_config"
    assert error_part in saved["runtime"]["error"]


async def test_config_endpoint_down_is_config_unavailable(
    tmp_path: Path, livekit_env: Callable[[str], None]
) -> None:
    livekit = FakeLiveKitServer()
    configs = ConfigEndpoint({}, status=503)
    async with serve(configs.app) as config_url:
        env = {
            "AGENT_REPORT_DIR": str(tmp_path),
            "AGENT_CONFIG_URL": f"{config_url}/calls/{{call_id}}",
            "AGENT_CONFIG_RETRIES": "0",
        }
        outcome = await _run_unrunnable('{"call_id": "call_42"}', env, livekit, livekit_env)

    _assert_not_run(outcome.report, "config_unavailable")
    assert outcome.report.runtime.call_id == "call_42"
    assert "HTTP 503" in (outcome.report.runtime.error or "")
    assert configs.requests == [("call_42", None)]
    assert len(livekit.requests("DeleteRoom")) == 1
    assert outcome.report_path == tmp_path / "call_42" / outcome.report.id / "report.json"


async def test_missing_provider_key_is_provider_unavailable(
    tmp_path: Path, livekit_env: Callable[[str], None]
) -> None:
    livekit = FakeLiveKitServer()
    settings = WorkerSettings.from_env({"AGENT_REPORT_DIR": str(tmp_path)})
    outcome = await _run_unrunnable(
        json.dumps(_call_document()),
        {"AGENT_REPORT_DIR": str(tmp_path)},
        livekit,
        livekit_env,
        make_providers=env_providers(settings, vad=None),
    )

    report = outcome.report
    _assert_not_run(report, "provider_unavailable")
    assert "OPENAI_API_KEY is not set" in (report.runtime.error or "")
    assert report.runtime.call_id == "call_order_status"
    assert report.runtime.direction == "inbound"
    assert report.phone_number == CALLER_NUMBER
    assert len(livekit.requests("DeleteRoom")) == 1


async def test_report_is_written_even_when_the_hang_up_fails(
    tmp_path: Path, livekit_env: Callable[[str], None]
) -> None:
    livekit = FakeLiveKitServer(errors={"DeleteRoom": (403, "permission_denied")})
    outcome = await _run_unrunnable("", {"AGENT_REPORT_DIR": str(tmp_path)}, livekit, livekit_env)

    assert outcome.report.end_reason == "invalid_config"
    assert outcome.report.runtime.events == []
    assert outcome.report.runtime.warnings == ["hang up failed: TelephonyError"]
    assert len(livekit.requests("DeleteRoom")) == 1
    assert _saved(outcome)["runtime"]["warnings"] == ["hang up failed: TelephonyError"]


# -- the telephony port ------------------------------------------------------------------------


def _telephony(lkapi: api.LiveKitAPI, gone: asyncio.Event) -> LiveKitTelephony:
    return LiveKitTelephony(
        lkapi,
        room=rtc.Room(),
        room_name="room-7",
        participant=SipParticipant("sip_caller"),
        caller_gone=gone,
        answered_at=time.time(),
    )


@asynccontextmanager
async def _telephony_against(livekit: FakeLiveKitServer) -> AsyncIterator[LiveKitTelephony]:
    async with serve(livekit.app) as url:
        lkapi = api.LiveKitAPI(url, API_KEY, API_SECRET)
        try:
            yield _telephony(lkapi, asyncio.Event())
        finally:
            await lkapi.aclose()


async def test_hang_up_deletes_the_room_once_and_tolerates_a_room_already_gone() -> None:
    livekit = FakeLiveKitServer(errors={"DeleteRoom": (404, "not_found")})
    async with _telephony_against(livekit) as telephony:
        await telephony.hang_up()
        await telephony.hang_up()
    assert [r.room for r in livekit.requests("DeleteRoom")] == ["room-7"]


async def test_hang_up_refused_by_the_server_is_a_telephony_error() -> None:
    livekit = FakeLiveKitServer(errors={"DeleteRoom": (403, "permission_denied")})
    async with _telephony_against(livekit) as telephony:
        with pytest.raises(TelephonyError, match="permission_denied") as raised:
            await telephony.hang_up()
    assert raised.value.sip_status is None


async def test_a_sip_status_in_the_server_error_reaches_the_telephony_error() -> None:
    meta = {"sip_status_code": "486", "sip_status": "Busy Here"}
    livekit = FakeLiveKitServer(errors={"DeleteRoom": (503, "unavailable", meta)})
    async with _telephony_against(livekit) as telephony:
        with pytest.raises(TelephonyError) as raised:
            await telephony.hang_up()
    error = raised.value
    assert (error.sip_status, error.sip_reason) == (486, "Busy Here")


async def test_wait_for_hangup_follows_the_caller_signal() -> None:
    gone = asyncio.Event()
    lkapi = api.LiveKitAPI("http://127.0.0.1:9", API_KEY, API_SECRET)
    waiting = asyncio.create_task(_telephony(lkapi, gone).wait_for_hangup())
    try:
        await asyncio.sleep(0.05)
        assert not waiting.done()
        gone.set()
        await asyncio.wait_for(waiting, 1.0)
    finally:
        waiting.cancel()
        await lkapi.aclose()


async def test_a_caller_absent_from_the_room_counts_as_gone() -> None:
    presence = CallerPresence(rtc.Room(), "sip_caller")
    presence.close()
    assert presence.gone.is_set()


# -- room media, offline -----------------------------------------------------------------------


def _tone(sample_rate: int, samples: int) -> rtc.AudioFrame:
    data = (np.sin(np.arange(samples) * 0.1) * 8000).astype(np.int16)
    return rtc.AudioFrame(data.tobytes(), sample_rate, 1, samples)


def _peak(frame: rtc.AudioFrame) -> int:
    return int(np.abs(np.frombuffer(frame.data, dtype=np.int16)).max(initial=0))


async def test_caller_audio_is_silence_until_a_track_then_the_track_then_silence() -> None:
    """The sink's track played into the input: what the agent publishes, the input hears."""
    source = rtc.AudioSource(24000, 1, queue_size_ms=200)
    sink = AudioSourceSink(source)
    track = rtc.LocalAudioTrack.create_audio_track("caller", source)
    caller_audio = TrackAudioInput()
    try:
        before = await anext(caller_audio)
        assert (before.sample_rate, before.samples_per_channel, _peak(before)) == (16000, 320, 0)

        caller_audio.attach(track)

        async def speak() -> None:
            for _ in range(25):
                await sink.write(_tone(24000, 480))

        speaking = asyncio.create_task(speak())
        try:
            heard = [await anext(caller_audio) for _ in range(40)]
        finally:
            await speaking
        loud = [f for f in heard if _peak(f) > 4000]
        assert len(loud) >= 15
        assert all(f.sample_rate == 16000 and f.samples_per_channel == 320 for f in heard)

        caller_audio.detach()
        after = [await anext(caller_audio) for _ in range(3)]
        assert all(_peak(f) == 0 for f in after)
    finally:
        await caller_audio.aclose()
        await source.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(caller_audio)


async def test_room_media_follows_only_the_callers_microphone() -> None:
    """Subscriptions arrive as room events; only the caller's microphone is listened to."""
    room = rtc.Room()
    media = RoomMedia(room, "sip_caller")
    source = rtc.AudioSource(24000, 1, queue_size_ms=200)
    track = rtc.LocalAudioTrack.create_audio_track("phone", source)
    microphone = SimpleNamespace(source=rtc.TrackSource.SOURCE_MICROPHONE)

    async def speak() -> None:
        while True:
            await AudioSourceSink(source).write(_tone(24000, 480))

    async def loudest(count: int) -> int:
        return max([_peak(await anext(media.caller_audio)) for _ in range(count)])

    speaking = asyncio.create_task(speak())
    try:
        room.emit("track_subscribed", track, microphone, SimpleNamespace(identity="someone"))
        assert await loudest(10) == 0
        room.emit("track_subscribed", track, microphone, SimpleNamespace(identity="sip_caller"))
        assert await loudest(10) > 4000
        room.emit("track_unsubscribed", track, microphone, SimpleNamespace(identity="sip_caller"))
        assert await loudest(5) == 0
    finally:
        speaking.cancel()
        await asyncio.gather(speaking, return_exceptions=True)
        await media.aclose()
        await source.aclose()
    assert media.sample_rate == 24000


async def test_sink_playout_waits_for_the_queued_audio() -> None:
    source = rtc.AudioSource(24000, 1, queue_size_ms=200)
    sink = AudioSourceSink(source)
    try:
        for _ in range(10):
            await sink.write(_tone(24000, 480))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await sink.wait_for_playout()
        assert loop.time() - started > 0.05
        assert source.queued_duration == 0
    finally:
        await source.aclose()


# -- process setup and command line ------------------------------------------------------------


def test_prewarm_keeps_one_vad_for_the_process() -> None:
    proc = JobProcess(executor_type=JobExecutorType.THREAD, user_arguments=None, http_proxy=None)
    prewarm(proc)
    assert isinstance(proc.userdata[VAD_KEY], inference.VAD)


def test_prewarm_decodes_the_office_ambience_once_per_process() -> None:
    code = (
        "from livekit.agents import JobExecutorType, JobProcess\n"
        "from agent_runtime.media.clip_cache import background_path, cached_loop\n"
        "from agent_runtime.media.room import OUTPUT_SAMPLE_RATE\n"
        "from agent_runtime.worker.server import prewarm\n"
        "path = background_path('audio/office.ogg')\n"
        "before = cached_loop(path, OUTPUT_SAMPLE_RATE)\n"
        "prewarm(JobProcess(executor_type=JobExecutorType.THREAD, user_arguments=None,"
        " http_proxy=None))\n"
        "print(before is None, cached_loop(path, OUTPUT_SAMPLE_RATE) is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_the_forkserver_preload_registers_the_providers_and_stays_fork_safe() -> None:
    # the worker's forkserver imports PRELOAD_MODULES and the registered plugins once, and
    # forks every job process from it: the imports must register the provider plugins (or
    # each call would import them on its greeting's path) and must not start livekit.rtc's
    # native runtime (it cannot cross a fork)
    code = (
        "import importlib\n"
        "from livekit.agents import Plugin\n"
        "from livekit.rtc._ffi_client import FfiClient\n"
        "from agent_runtime.worker.server import PRELOAD_MODULES\n"
        "for name in PRELOAD_MODULES: importlib.import_module(name)\n"
        "print(sorted(p.package for p in Plugin.registered_plugins))\n"
        "print(FfiClient._instance is None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    registered, fork_safe = out.stdout.strip().splitlines()
    for plugin in (
        "livekit.plugins.openai",
        "livekit.plugins.cartesia",
        "livekit.plugins.elevenlabs",
    ):
        assert plugin in registered
    assert fork_safe == "True"


def test_prewarm_does_the_first_use_work_of_a_call_before_the_job() -> None:
    code = (
        "import sys\n"
        "from livekit.agents import JobExecutorType, JobProcess\n"
        "from livekit.agents.utils import http_context\n"
        "from agent_runtime.warmup import LAZY_MODULES\n"
        "from agent_runtime.worker.server import prewarm\n"
        "LAZY_MODULES += ('openai.resources.chat.completions.completions',)\n"
        "print(any(m in sys.modules for m in LAZY_MODULES),"
        " http_context._ssl_context_for.cache_info().currsize)\n"
        "prewarm(JobProcess(executor_type=JobExecutorType.THREAD, user_arguments=None,"
        " http_proxy=None))\n"
        "print(all(m in sys.modules for m in LAZY_MODULES),"
        " http_context._ssl_context_for.cache_info().currsize)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "0", "True", "1"]


def test_endpointing_settings_are_checked() -> None:
    default = WorkerSettings.from_env({}).call.turn()
    assert (default.min_endpointing_delay, default.max_endpointing_delay) == (0.2, 2.5)
    moved = WorkerSettings.from_env(
        {"AGENT_MIN_ENDPOINTING_DELAY": "0.6", "AGENT_MAX_ENDPOINTING_DELAY": "3"}
    ).call.turn()
    assert (moved.min_endpointing_delay, moved.max_endpointing_delay) == (0.6, 3.0)
    assert (
        default.min_interruption_duration,
        default.min_interruption_words,
        default.false_interruption_timeout,
    ) == (0.2, 0, 1.0)
    by_words = WorkerSettings.from_env(
        {
            "AGENT_MIN_INTERRUPTION_DURATION": "0.3",
            "AGENT_MIN_INTERRUPTION_WORDS": "1",
            "AGENT_FALSE_INTERRUPTION_TIMEOUT": "0.5",
        }
    ).call.turn()
    assert (
        by_words.min_interruption_duration,
        by_words.min_interruption_words,
        by_words.false_interruption_timeout,
    ) == (0.3, 1, 0.5)
    for env, message in (
        ({"AGENT_MIN_ENDPOINTING_DELAY": "soon"}, "AGENT_MIN_ENDPOINTING_DELAY: must be a valid"),
        ({"AGENT_MAX_ENDPOINTING_DELAY": "-1"}, "AGENT_MAX_ENDPOINTING_DELAY: must be greater"),
        ({"AGENT_MIN_ENDPOINTING_DELAY": "3"}, "is longer than AGENT_MAX_ENDPOINTING_DELAY"),
        ({"AGENT_MIN_INTERRUPTION_WORDS": "-1"}, "AGENT_MIN_INTERRUPTION_WORDS: must be greater"),
        ({"AGENT_MIN_INTERRUPTION_DURATION": "0"}, "AGENT_MIN_INTERRUPTION_DURATION: must be"),
    ):
        with pytest.raises(SettingsError, match=message):
            WorkerSettings.from_env(env)


def test_settings_defaults_and_environment() -> None:
    default = WorkerSettings.from_env({})
    assert default.agent_name == "agent-runtime"
    assert default.report_dir == Path("reports")
    assert default.config_endpoint is None
    custom = WorkerSettings.from_env(
        {
            "LIVEKIT_AGENT_NAME": "support-line",
            "AGENT_REPORT_DIR": "/var/reports",
            "AGENT_CONFIG_URL": "https://config.example/calls",
        }
    )
    assert custom.agent_name == "support-line"
    assert custom.report_dir == Path("/var/reports")
    assert custom.config_endpoint is not None
    assert custom.config_endpoint.url_for("c1") == "https://config.example/calls/c1"
    with pytest.raises(SettingsError, match="AGENT_CALLER_TIMEOUT: must be a valid number"):
        WorkerSettings.from_env({"AGENT_CALLER_TIMEOUT": "soon"})


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agent-runtime")
    commands = parser.add_subparsers(dest="command", required=True)
    worker_command.add_parser(commands)
    return parser.parse_args(argv)


@pytest.mark.filterwarnings("ignore:the built-in Python CLI is deprecated:DeprecationWarning")
def test_start_and_dev_forward_their_options_to_the_livekit_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    args = _parse(["start", "--url", "wss://lk.example", "--log-level", "debug"])
    assert (args.mode, args.livekit_args) == (
        "start",
        ["--url", "wss://lk.example", "--log-level", "debug"],
    )
    assert _parse(["dev"]).mode == "dev"

    help_args = _parse(["start", "--help"])
    with pytest.raises(SystemExit) as exited:
        help_args.run(help_args)
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert "agent-runtime start" in shown and "--api-secret" in shown

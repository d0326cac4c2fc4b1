"""Replay a recorded call through the whole runtime, offline.

The real ``livekit-plugins-openai`` client talks to a local server that serves the recorded LLM
answers; the recorded transcripts stand in for speech-to-text; the offline TTS speaks; the real
VAD and end-of-turn model listen to the real caller audio. The runner is the production one.

A call whose ``llm_model`` is an OpenAI realtime model is played against the local Realtime API
stand-in (``realtime_server.py``), reached through ``OPENAI_BASE_URL`` as in production: it
answers from the same ``llm.json`` and transcribes the caller with ``stt.json``; the offline
TTS speaks the fixed sentences.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from livekit.agents import stt, tts
from livekit.agents.inference import VAD

from ..call.clip_store import ClipStore
from ..call.options import RunOptions
from ..call.ports import CallPorts
from ..call.runner import CallResult, CallRunner
from ..call.session import TurnOptions
from ..config.attempt import TranscriptRow
from ..config.llm import CustomLLM, DedicatedLLM, LLMModel, OpenRouterLLM, RealtimeLLM
from ..config.loading import load_file
from ..config.spec import CallSpec
from ..errors import ProviderConfigError
from ..integrations.settings import IntegrationSettings
from ..offline_tts import Engine, OfflineTTS
from ..post_call.delivery import Deliverer
from ..post_call.outbox import Outbox
from ..post_call.pipeline import AfterCall, FinishedCall, senders
from ..post_call.settings import AfterCallSettings
from ..providers import (
    Clients,
    Providers,
    ProviderSettings,
    build_llm,
    build_turn_detector,
    build_vad,
)
from ..report.model import CallReport
from ..telephony.port import SipParticipant
from ..telephony.recorded import RecordedLine
from .clock import InlineExecutor
from .http_server import ReceivedRequest, RecordedHttpServer
from .llm_server import ChatRequest, ScriptedLLMServer
from .local_server import serve
from .media import ReplayMedia, ReplayParty
from .realtime_script import RecordedRealtimeScript
from .realtime_server import RealtimeStandIn
from .recorded_call import RecordedCall
from .stt import ReplaySTT


@dataclass(frozen=True)
class ReplayResult:
    """A replayed call: its report and files, and what the stand-in providers saw."""

    call: CallResult
    recorded: RecordedCall
    llm_requests: list[ChatRequest]
    """What the LLM was asked during the call."""
    after_call_requests: list[ChatRequest]
    """What the after-call steps asked it."""
    http_requests: list[ReceivedRequest]
    caller_offset: float
    """Report time (seconds from call start) at which ``caller.wav`` started playing."""
    hung_up_at: float | None
    """Caller-audio time at which the runtime hung up."""
    line: RecordedLine
    """The replayed phone line: the keys the agent sent, the transfers it asked for."""
    tts_engine: str
    realtime: RealtimeStandIn | None = None
    """The Realtime API stand-in, when the call's model is a realtime one (what it was sent,
    its conversation); ``llm_requests`` is then empty."""


def _model_name(model: LLMModel) -> str:
    match model:
        case DedicatedLLM():
            return model.name
        case OpenRouterLLM():
            return model.openrouter_model_id
        case CustomLLM():
            return model.model_name
        case RealtimeLLM(provider="openai"):
            return model.realtime_model_id
    raise ProviderConfigError("replay supports text LLMs and OpenAI realtime models only")


@asynccontextmanager
async def recorded_services(
    recorded: RecordedCall, env: Mapping[str, str]
) -> AsyncIterator[tuple[IntegrationSettings, RecordedHttpServer]]:
    """Serve the recorded HTTP answers; yield the integrations' settings routed to them.

    The settings are read from the recording's ``env.json`` overridden by ``env``; every
    service under a recorded origin (Twilio, Calendly, a custom tool...) is then served by the
    local server.
    """
    http = RecordedHttpServer(recorded.http)
    settings = IntegrationSettings.from_env({**recorded.env, **env})
    async with AsyncExitStack() as stack:
        if recorded.http.answers:
            local = await stack.enter_async_context(serve(http.app))
            origins = dict.fromkeys(sorted(recorded.http.origins()), local)
            settings = settings.moved(origins, allow="127.0.0.1")
        yield settings, http


async def replay(
    recorded: RecordedCall,
    *,
    output_dir: Path | None = None,
    engine: Engine = "auto",
    turn: TurnOptions | None = None,
    inline_inference: bool = False,
    env: Mapping[str, str] | None = None,
    voice: tts.TTS | None = None,
    clip_store: ClipStore | None = None,
    stop_on_sigterm: bool = False,
    on_row: Callable[[TranscriptRow, float], None] | None = None,
    capture: bool = False,
    media: ReplayMedia | None = None,
    transcriber: stt.STT | None = None,
) -> ReplayResult:
    """Play ``recorded`` through the runtime and return the result.

    ``inline_inference`` runs the VAD on the loop's thread (required on a virtual clock).
    ``env`` holds integration settings as environment variables, on top of ``env.json``
    (stand-in service URLs and credentials in tests).
    ``voice`` replaces the offline TTS (e.g. a provider that fails, in tests).
    ``clip_store`` keeps rendered sentences on disk as the worker does (none by default).
    ``stop_on_sigterm``: SIGTERM ends the call cleanly, with its report (the CLI).
    ``on_row`` is called with each transcript row as it is added, and when it began in
    seconds from the answer (the CLI prints them). ``capture`` writes ``capture.json`` too.
    ``media`` replaces the media played from the recording (one that also keeps what the
    caller hears); ``transcriber`` replaces the recorded transcripts (a streaming stand-in).
    """
    from livekit.plugins import openai

    spec = load_file(recorded.config_path)
    server = ScriptedLLMServer(recorded.llm, model=_model_name(spec.llm_model))
    media = media or ReplayMedia(recorded)
    line = RecordedLine(
        recorded.phone,
        hung_up=media.caller_audio.hung_up,
        playhead=media.playhead,
        reached=media.caller_audio.reached,
        participant=SipParticipant("sip_caller"),
        outbound=spec.call.direction == "outbound",
        consultation=lambda hangup_at: ReplayParty(recorded.supervisor(hangup_at)),
    )
    offline = OfflineTTS.for_voice(spec.voice, engine=engine)
    realtime = (
        RealtimeStandIn(
            RecordedRealtimeScript(recorded.llm, recorded.stt.utterances, media.playhead)
        )
        if isinstance(spec.llm_model, RealtimeLLM)
        else None
    )
    async with (
        serve(realtime.app if realtime else server.app) as base_url,
        recorded_services(recorded, env or {}) as (integrations, http),
    ):
        clients = Clients()
        vad = build_vad(InlineExecutor() if inline_inference else None)
        if realtime is not None:
            providers = _realtime_providers(spec, base_url, clients, voice or offline, vad)
        else:
            providers = Providers(
                stt=transcriber or ReplaySTT(list(recorded.stt.utterances), media.playhead),
                llm=openai.LLM(
                    model=server.model, client=clients.openai("replay", f"{base_url}/v1")
                ),
                aside_llm=openai.LLM(
                    model=server.model, client=clients.openai("replay", f"{base_url}/v1")
                ),
                tts=voice or offline,
                vad=vad,
                turn_detector=build_turn_detector(),
                clients=clients,
            )
        runner = CallRunner(
            spec,
            providers,
            CallPorts(media, line, integrations),
            RunOptions(
                turn=turn or TurnOptions(),
                output_dir=output_dir,
                clip_store=clip_store,
                consultation_stt=lambda: ReplaySTT(
                    list(recorded.supervisor_stt.utterances), line.leg_playhead
                ),
                stop_on_sigterm=stop_on_sigterm,
                on_row=on_row,
                capture=capture,
            ),
        )
        during_call = 0
        try:
            result = await runner.run()
            during_call = len(server.requests)
            finished = FinishedCall(
                spec, result.report, result.report_path, result.recording_path, providers.llm
            )
            after = AfterCallSettings.from_env({**recorded.env, **(env or {})})
            report = await _after_call(finished, after, integrations, output_dir)
            result = replace(result, report=report)
        finally:
            await line.aclose()
            await providers.aclose()
    started = media.caller_audio.started_at_wall
    report_start = result.report.started_at
    offset = 0.0
    if started is not None and report_start is not None:
        offset = round(started - report_start.timestamp(), 3)
    return ReplayResult(
        call=result,
        recorded=recorded,
        llm_requests=server.requests[:during_call],
        after_call_requests=server.requests[during_call:],
        http_requests=list(http.requests),
        caller_offset=offset,
        hung_up_at=line.hung_up_at,
        line=line,
        tts_engine=offline.engine if voice is None else voice.label,
        realtime=realtime,
    )


def _realtime_providers(
    spec: CallSpec, base_url: str, clients: Clients, sentences: tts.TTS, vad: VAD
) -> Providers:
    """The call's realtime model, on the stand-in; ``sentences`` speaks the fixed sentences."""
    settings = ProviderSettings.from_env(
        {"OPENAI_API_KEY": "replay", "OPENAI_BASE_URL": f"{base_url}/v1"}
    )
    return Providers(
        stt=None,
        llm=build_llm(spec.llm_model, settings, clients),
        tts=sentences,
        vad=vad,
        turn_detector=build_turn_detector(),
        clients=clients,
    )


async def _after_call(
    finished: FinishedCall,
    settings: AfterCallSettings,
    integrations: IntegrationSettings,
    output_dir: Path | None,
) -> CallReport:
    """The after-call steps, and one try of their deliveries.

    The outbox stays on disk in ``output_dir`` for a look, or in a directory of its own that
    is removed afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="replay-outbox-") as scratch:
        folder = output_dir if output_dir is not None else Path(scratch)
        outbox = Outbox(settings.outbox_path or folder / "outbox.sqlite3")
        try:
            report = await AfterCall(
                finished, settings=settings, integrations=integrations, outbox=outbox
            ).run()
            await Deliverer(outbox, senders(settings, integrations)).deliver_due()
        finally:
            outbox.close()
    return report


def run_replay(folder: str | Path, *, fast: bool, **kwargs: Any) -> ReplayResult:
    """Replay the recorded call in ``folder``: at real speed, or ``fast`` on a virtual clock."""
    import asyncio

    from .clock import run_virtual

    recorded = RecordedCall.load(folder)
    if fast:
        result: ReplayResult = run_virtual(
            lambda: replay(recorded, inline_inference=True, **kwargs)
        )
        return result
    return asyncio.run(replay(recorded, **kwargs))

"""The LiveKit worker: one job per phone call.

The worker registers under an agent name (explicit dispatch, as SIP dispatch rules use). Each
job reads its call config from the job metadata, builds the providers, connects to the room,
waits for the SIP participant, runs the call through the ``CallRunner`` on room media, writes
the report, and ends. A call that cannot run (invalid config, config endpoint down, provider
not configured, no caller) is hung up at once and still gets a report saying why.

``run_call_job`` holds that logic; it takes the media and the providers as factories, so tests
run it in a fake job with replayed media and stand-in providers.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from livekit import rtc
from livekit.agents import AgentServer, AutoSubscribe, JobContext, JobProcess, inference, utils
from livekit.agents.utils.participant import wait_for_participant_attribute

# Imported here, when the worker starts, so that they register as plugins: the framework then
# imports them once in its forkserver and every job process inherits them. Imported lazily by
# the provider factory instead, they cost each call about 1.5 s of CPU on the greeting's path.
from livekit.plugins import cartesia, elevenlabs, openai  # noqa: F401

from .call.clip_store import ClipStore
from .call.runner import FAILURE_LINE, RECOVERY_LINE, CallRunner, RunOptions
from .call.session import TurnOptions
from .config.sources import ConfigEndpoint, load_job_metadata
from .config.spec import CallSpec
from .errors import ConfigError, ConfigFetchError, ProviderConfigError
from .log import logger
from .media.clip_cache import background_path, load_loop
from .media.ports import MediaPort
from .media.room import OUTPUT_SAMPLE_RATE, RoomMedia
from .providers import ProviderEnv, Providers, build_providers, build_vad
from .report.model import CallEvent, CallReport, RuntimeSection
from .telephony.room import CallerPresence, RoomTelephony, delete_room
from .warmup import warm_process

PRELOAD_MODULES = ["agent_runtime.worker"]
"""Imported once in the worker's forkserver, so that job processes start with the runtime
loaded (about 0.7 s of CPU per job otherwise). Nothing here may use ``livekit.rtc`` at import:
its native runtime cannot cross a fork."""
DEFAULT_AGENT_NAME = "agent-runtime"
SIP_CALL_STATUS = "sip.callStatus"
MAX_ENDPOINTING_SECONDS = 10.0
"""Longest endpointing delay the worker accepts: a caller waits this long in silence."""
VAD_KEY = "agent_runtime.vad"
"""Key of the process's preloaded VAD in ``JobProcess.userdata``."""


@dataclass(frozen=True)
class WorkerSettings:
    """What the worker reads from its environment."""

    agent_name: str = DEFAULT_AGENT_NAME
    report_dir: Path = Path("reports")
    config_endpoint: ConfigEndpoint | None = None
    caller_timeout: float = 30.0
    """Seconds a job waits for the SIP participant before giving up."""
    turn: TurnOptions = field(default_factory=TurnOptions)
    """Turn-taking: the endpointing delays can be moved (``AGENT_MIN_ENDPOINTING_DELAY``,
    ``AGENT_MAX_ENDPOINTING_DELAY``): longer waits cut callers off less and answer later."""
    env: Mapping[str, str] = field(default_factory=dict)
    """The whole environment: provider keys and integration settings."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkerSettings:
        """Read the settings from ``env``; raise ``ValueError`` on an unreadable number.

        ``LIVEKIT_AGENT_NAME``, ``AGENT_REPORT_DIR``, ``AGENT_CALLER_TIMEOUT``, the endpointing
        delays (``AGENT_MIN_ENDPOINTING_DELAY``, ``AGENT_MAX_ENDPOINTING_DELAY``) and the config
        endpoint (``AGENT_CONFIG_*``).
        """
        try:
            endpoint = ConfigEndpoint.from_env(env)
            caller_timeout = float(env.get("AGENT_CALLER_TIMEOUT") or 30.0)
            turn = _turn_options(env)
        except ValueError as err:
            raise ValueError(f"invalid worker setting: {err}") from None
        return cls(
            agent_name=env.get("LIVEKIT_AGENT_NAME") or DEFAULT_AGENT_NAME,
            report_dir=Path(env.get("AGENT_REPORT_DIR") or "reports"),
            config_endpoint=endpoint,
            caller_timeout=caller_timeout,
            turn=turn,
            env=dict(env),
        )


def _turn_options(env: Mapping[str, str]) -> TurnOptions:
    default = TurnOptions()
    least = _seconds(env, "AGENT_MIN_ENDPOINTING_DELAY", default.min_endpointing_delay)
    most = _seconds(env, "AGENT_MAX_ENDPOINTING_DELAY", default.max_endpointing_delay)
    if least > most:
        raise ValueError(
            f"AGENT_MIN_ENDPOINTING_DELAY ({least:g} s) is longer than"
            f" AGENT_MAX_ENDPOINTING_DELAY ({most:g} s)"
        )
    return replace(default, min_endpointing_delay=least, max_endpointing_delay=most)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 <= value <= MAX_ENDPOINTING_SECONDS:
        raise ValueError(f"{name} must be between 0 and {MAX_ENDPOINTING_SECONDS:g} seconds")
    return value


@dataclass(frozen=True)
class CallLine:
    """A connected call: its media and the signal that the caller hung up."""

    media: MediaPort
    caller_gone: asyncio.Event
    close: Callable[[], Awaitable[None]]
    """Releases the media (called once, after the call)."""


LineFactory = Callable[[JobContext, WorkerSettings], Awaitable[CallLine]]
"""Connects a job's call: room media in production, replayed media in tests."""
ProvidersFactory = Callable[[CallSpec], Providers]
"""Builds a call's providers; raises ``ProviderConfigError`` when it cannot."""


@dataclass(frozen=True)
class JobOutcome:
    """The report of a job's call and where it was written."""

    report: CallReport
    report_path: Path | None


class CallNotRun(Exception):
    """The call could not run; ``end_reason`` and the message go into its report."""

    def __init__(self, end_reason: str, message: str) -> None:
        super().__init__(message)
        self.end_reason = end_reason


# -- the job -----------------------------------------------------------------------------------


async def run_call_job(
    ctx: JobContext,
    settings: WorkerSettings,
    *,
    connect_line: LineFactory,
    make_providers: ProvidersFactory,
) -> JobOutcome:
    """Run the call of ``ctx`` to its end, write its report, and end the job."""
    started = time.time()
    attempt_id = f"att_{uuid.uuid4().hex[:16]}"
    async with utils.http_context.open():
        spec: CallSpec | None = None
        try:
            spec = await _load_spec(ctx, settings)
            providers = _providers(make_providers, spec)
            line = await _connect(connect_line, ctx, settings)
        except CallNotRun as failure:
            outcome = await _not_run(ctx, settings, failure, spec, attempt_id, started)
        else:
            try:
                telephony = RoomTelephony(ctx.api, ctx.job.room.name, line.caller_gone)
                options = RunOptions(
                    output_dir=settings.report_dir / _safe_name(spec.call.id),
                    attempt_id=attempt_id,
                    started_at=started,
                    env=settings.env,
                    recovery_line=_line(settings.env, "AGENT_RECOVERY_LINE", RECOVERY_LINE),
                    failure_line=_line(settings.env, "AGENT_FAILURE_LINE", FAILURE_LINE),
                    clip_store=ClipStore.from_env(settings.env),
                    turn=settings.turn,
                )
                runner = CallRunner(spec, providers, line.media, telephony, options)
                result = await runner.run()
            finally:
                await line.close()
            outcome = JobOutcome(result.report, result.report_path)
    _log_summary(outcome)
    ctx.shutdown(reason="call ended")
    return outcome


async def _load_spec(ctx: JobContext, settings: WorkerSettings) -> CallSpec:
    try:
        return await load_job_metadata(ctx.job.metadata, settings.config_endpoint)
    except ConfigError as err:
        raise CallNotRun("invalid_config", str(err)) from None
    except ConfigFetchError as err:
        raise CallNotRun("config_unavailable", str(err)) from None


def _providers(make_providers: ProvidersFactory, spec: CallSpec) -> Providers:
    try:
        return make_providers(spec)
    except ProviderConfigError as err:
        raise CallNotRun("provider_unavailable", str(err)) from None


async def _connect(
    connect_line: LineFactory, ctx: JobContext, settings: WorkerSettings
) -> CallLine:
    try:
        return await connect_line(ctx, settings)
    except CallNotRun:
        raise
    except Exception as err:
        logger.exception("could not connect the call")
        raise CallNotRun(
            "media_unavailable", f"the room media failed: {type(err).__name__}"
        ) from None


async def _not_run(
    ctx: JobContext,
    settings: WorkerSettings,
    failure: CallNotRun,
    spec: CallSpec | None,
    attempt_id: str,
    started: float,
) -> JobOutcome:
    """Hang up a call that cannot run and write the report that says why."""
    events: list[CallEvent] = []
    warnings: list[str] = []
    try:
        await delete_room(ctx.api, ctx.job.room.name)
        events.append(CallEvent(type="hung_up", at=round(time.time() - started, 3)))
    except Exception as err:
        warnings.append(f"hang up failed: {type(err).__name__}")
    call_id = spec.call.id if spec is not None else _call_id_hint(ctx.job.metadata)
    report = failure_report(
        spec,
        call_id=call_id,
        attempt_id=attempt_id,
        started_at=started,
        end_reason=failure.end_reason,
        error=str(failure),
        events=events,
        warnings=warnings,
    )
    folder = settings.report_dir / _safe_name(call_id or f"job-{ctx.job.id}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.json"
    path.write_text(report.to_json())
    logger.warning("call %s not run (%s): %s", call_id or "-", failure.end_reason, failure)
    return JobOutcome(report, path)


def failure_report(
    spec: CallSpec | None,
    *,
    call_id: str | None,
    attempt_id: str,
    started_at: float,
    end_reason: str,
    error: str,
    events: list[CallEvent],
    warnings: list[str],
) -> CallReport:
    """The report of a call that ended before it began: ended by the system, with the error."""
    ended_at = time.time()
    call = spec.call if spec is not None else None
    return CallReport(
        id=attempt_id,
        phone_number=call.user_phone_number if call is not None else None,
        started_at=datetime.fromtimestamp(started_at, tz=UTC),
        ended_at=datetime.fromtimestamp(ended_at, tz=UTC),
        status="error",
        ended_by="system",
        end_reason=end_reason,
        transcript=[],
        runtime=RuntimeSection(
            call_id=call_id,
            assistant_id=call.assistant.id if call is not None else None,
            direction=call.direction if call is not None else None,
            duration=round(ended_at - started_at, 3),
            warnings=[*(str(w) for w in spec.warnings), *warnings]
            if spec is not None
            else warnings,
            events=events,
            error=error,
        ),
    )


def _call_id_hint(metadata: str) -> str | None:
    """The call id a metadata document names, even when the document is invalid."""
    try:
        document = json.loads(metadata)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    call = document.get("call")
    candidates = [
        document.get("call_id"),
        call.get("id") if isinstance(call, dict) else None,
        document.get("id") if "assistant" in document else None,
    ]
    return next((c for c in candidates if isinstance(c, str) and c.strip()), None)


def _line(env: Mapping[str, str], name: str, default: str) -> str | None:
    """A line the runtime says, from ``env`` when set there ("" says nothing)."""
    value = env.get(name)
    return default if value is None else value or None


def _safe_name(call_id: str) -> str:
    """``call_id`` as a single, harmless folder name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", call_id).lstrip(".") or "call"


def _log_summary(outcome: JobOutcome) -> None:
    """One INFO line per call: no phone number, transcript or secret."""
    report = outcome.report
    turns = sum(1 for row in report.transcript or [] if row.role == "user")
    logger.info(
        "call %s ended: status=%s ended_by=%s end_reason=%s duration=%ss caller_turns=%d report=%s",
        report.runtime.call_id or "-",
        report.status,
        report.ended_by,
        report.end_reason,
        report.runtime.duration,
        turns,
        outcome.report_path,
    )


# -- production: room media, providers from the environment, the server ------------------------


async def connect_room_line(ctx: JobContext, settings: WorkerSettings) -> CallLine:
    """Connect to the room, wait for the SIP participant, and open the room media.

    An outbound call is still ringing when its participant joins: the call starts once its
    ``sip.callStatus`` is ``active``, so the agent never speaks over the ringback.
    """
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    try:
        caller = await asyncio.wait_for(
            ctx.wait_for_participant(kind=rtc.ParticipantKind.PARTICIPANT_KIND_SIP),
            settings.caller_timeout,
        )
    except TimeoutError:
        raise CallNotRun(
            "caller_not_joined", f"no SIP participant joined within {settings.caller_timeout:g} s"
        ) from None
    status = caller.attributes.get(SIP_CALL_STATUS)
    if status is not None and status != "active":
        try:
            await wait_for_participant_attribute(
                ctx.room, identity=caller.identity, attribute=SIP_CALL_STATUS, value="active"
            )
        except RuntimeError:
            raise CallNotRun(
                "caller_left", "the caller left before the call was answered"
            ) from None
    presence = CallerPresence(ctx.room, caller.identity)
    try:
        media = await RoomMedia.open(ctx.room, caller)
    except BaseException:
        presence.close()
        raise

    async def close() -> None:
        presence.close()
        await media.aclose()

    return CallLine(media=media, caller_gone=presence.gone, close=close)


def env_providers(settings: WorkerSettings, vad: inference.VAD | None) -> ProvidersFactory:
    """Build each call's providers from the environment, sharing the process's VAD."""
    env = ProviderEnv(settings.env)

    def make(spec: CallSpec) -> Providers:
        return build_providers(spec.llm_model, spec.assistant.voice, env, vad=vad)

    return make


def load_models(proc: JobProcess) -> None:
    """Load the VAD and end-of-turn models (the VAD is kept) and the decoded office ambience."""
    import livekit.local_inference as local_inference

    local_inference.init_vad()
    local_inference.init_eot()
    proc.userdata[VAD_KEY] = build_vad()
    load_loop(background_path("audio/office.ogg"), OUTPUT_SAMPLE_RATE)


def prewarm(proc: JobProcess) -> None:
    """Load once per process, while it waits for its job, the models and a call's first-use costs.

    See ``load_models`` and ``warmup``.
    """
    load_models(proc)
    warm_process()


async def entrypoint(ctx: JobContext) -> None:
    """The job entrypoint: run the room's phone call."""
    settings = WorkerSettings.from_env(os.environ)
    vad = ctx.proc.userdata.get(VAD_KEY)
    await run_call_job(
        ctx,
        settings,
        connect_line=connect_room_line,
        make_providers=env_providers(settings, vad if isinstance(vad, inference.VAD) else None),
    )


def build_server(settings: WorkerSettings) -> AgentServer:
    """The agent server: explicit dispatch under ``settings.agent_name``."""
    server = AgentServer(
        setup_fnc=prewarm, initialize_process_timeout=30.0, preload_modules=PRELOAD_MODULES
    )
    server.rtc_session(entrypoint, agent_name=settings.agent_name)
    return server

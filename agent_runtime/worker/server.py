"""The agent server: explicit dispatch, process warm-up, and the job entrypoint.

Its health server (``AGENT_HEALTH_PORT``) answers liveness on ``/`` and readiness on
``/ready`` (``agent_server``); a stopping worker drains for up to ``AGENT_DRAIN_TIMEOUT``.
"""

from __future__ import annotations

import os

from livekit.agents import JobContext, JobProcess, inference

# Imported here, when the worker starts, so that they register as plugins: the framework then
# imports them once in its forkserver and every job process inherits them. Imported lazily by
# the provider factory instead, they cost each call about 1.5 s of CPU on the greeting's path.
from livekit.plugins import cartesia, elevenlabs, openai  # noqa: F401

from ..config.spec import CallSpec
from ..media.clip_cache import background_path, load_loop
from ..media.room import OUTPUT_SAMPLE_RATE
from ..providers import Providers, build_providers, build_vad
from ..warmup import warm_process
from .agent_server import RuntimeAgentServer
from .job import JobOutcome, ProvidersFactory, finish_call_job, run_call_job
from .load import LOAD_THRESHOLD, WorkerLoad
from .room import connect_room_line
from .settings import WorkerSettings

PRELOAD_MODULES = ["agent_runtime.worker.server"]
"""Imported once in the worker's forkserver, so that job processes start with the runtime
loaded (about 0.7 s of CPU per job otherwise). Nothing here may use ``livekit.rtc`` at import:
its native runtime cannot cross a fork."""
VAD_KEY = "agent_runtime.vad"
"""Key of the process's preloaded VAD in ``JobProcess.userdata``."""
OUTCOME_KEY = "agent_runtime.outcome"
"""Key of the job's outcome in ``JobProcess.userdata``, from the call to its after-call steps."""
AFTER_CALL_TIMEOUT = 300.0
"""Seconds the framework gives ``after_call`` (its ``session_end_timeout``)."""


def env_providers(settings: WorkerSettings, vad: inference.VAD | None) -> ProvidersFactory:
    """Build each call's providers from the provider settings, sharing the process's VAD."""

    def make(spec: CallSpec) -> Providers:
        return build_providers(spec.llm_model, spec.voice, settings.providers, vad=vad)

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
    """The job entrypoint: run the room's phone call (settings were checked at start)."""
    settings = WorkerSettings.from_env(os.environ)
    vad = ctx.proc.userdata.get(VAD_KEY)
    ctx.proc.userdata[OUTCOME_KEY] = await run_call_job(
        ctx,
        settings,
        connect_line=connect_room_line,
        make_providers=env_providers(settings, vad if isinstance(vad, inference.VAD) else None),
    )


async def after_call(ctx: JobContext) -> None:
    """Once the job's room is gone: the call's after-call steps (``finish_call_job``)."""
    outcome = ctx.proc.userdata.pop(OUTCOME_KEY, None)
    if isinstance(outcome, JobOutcome):
        await finish_call_job(outcome, WorkerSettings.from_env(os.environ))


def build_server(settings: WorkerSettings) -> RuntimeAgentServer:
    """The agent server: explicit dispatch under ``settings.agent_name``."""
    server = RuntimeAgentServer(
        setup_fnc=prewarm,
        initialize_process_timeout=30.0,
        preload_modules=PRELOAD_MODULES,
        session_end_timeout=AFTER_CALL_TIMEOUT,
        port=settings.health_port,
        drain_timeout=settings.drain_timeout,
        load_fnc=WorkerLoad.from_settings(settings.load),
        load_threshold=LOAD_THRESHOLD,
        register_timeout=settings.register_timeout,
        # job processes write their metrics there; /metrics is ours (observability.server)
        prometheus_multiproc_dir=settings.observability.metrics.files_dir,
    )
    server.rtc_session(entrypoint, agent_name=settings.agent_name, on_session_end=after_call)
    return server

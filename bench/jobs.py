"""Calls run for a measurement: all in this process, or each in its own process like the worker.

A process per call mirrors the LiveKit worker on Linux: a forkserver runs the framework's
warm-up once (``livekit.agents.ipc._preload``: the VAD and end-of-turn weights, shared
copy-on-write by every job process, then ``_preload_freeze``), and each job process is forked
from it, imports what its entrypoint needs, runs our worker's ``prewarm`` and serves one call.
Without ``warm`` (``process-cold``) the forkserver preloads only the framework's modules and
a job process only loads the models (``worker.load_models``): the worker before its
``PRELOAD_MODULES``, plugin registration and ``agent_runtime/warmup.py``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.synchronize
import queue
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livekit.agents import tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from agent_runtime.call.clip_store import ClipStore
from agent_runtime.call.session import TurnOptions
from agent_runtime.offline_tts import OfflineTTS
from agent_runtime.replay.recorded_call import RecordedCall
from agent_runtime.worker.server import PRELOAD_MODULES, load_models
from agent_runtime.worker.server import prewarm as worker_prewarm

from . import harness
from .common import CALLS, Memory, cpu_seconds, load, memory

WORKER_PRELOAD = [
    "livekit.plugins.cartesia",
    "livekit.plugins.elevenlabs",
    "livekit.plugins.openai",
    *PRELOAD_MODULES,
    "livekit.agents.ipc._preload",
    "livekit.agents.ipc._preload_freeze",
]
"""What our worker's forkserver imports: the plugins it registered when it started, our
``PRELOAD_MODULES`` (the runtime), then the framework's warm-up and freeze."""
COLD_PRELOAD = ["livekit.agents.ipc._preload", "livekit.agents.ipc._preload_freeze"]
"""The forkserver without our plugins and runtime (``process-cold``): each job process imports
them when it starts, as the worker did before ``PRELOAD_MODULES``."""


@dataclass
class VoiceSpec:
    """The fake voice: synthetic, optionally with a time to first byte."""

    first_byte: float = 0.0

    def build(self, recorded: RecordedCall) -> tts.TTS:
        """The TTS plugin for ``recorded`` (at its voice's speed)."""
        voice = harness.synthetic_voice(recorded)
        return voice if self.first_byte <= 0 else SlowFirstByte(voice, self.first_byte)


class SlowFirstByte(tts.TTS):
    """Wraps a TTS so that each synthesis starts ``delay`` seconds late (a cloud TTS's TTFB)."""

    def __init__(self, inner: OfflineTTS, delay: float) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=inner.sample_rate,
            num_channels=1,
        )
        self._inner = inner
        self._delay = delay

    @property
    def model(self) -> str:
        """The wrapped engine."""
        return f"{self._inner.model}+{self._delay * 1000:.0f}ms"

    @property
    def provider(self) -> str:
        """Always ``bench``."""
        return "bench"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        """Synthesise ``text`` after the delay."""
        return _SlowStream(
            tts=self,
            input_text=text,
            inner=self._inner,
            delay=self._delay,
            conn_options=conn_options,
        )


class _SlowStream(tts.ChunkedStream):
    def __init__(
        self,
        *,
        tts: SlowFirstByte,
        input_text: str,
        inner: OfflineTTS,
        delay: float,
        conn_options: APIConnectOptions,
    ):
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._inner = inner
        self._delay = delay

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        await asyncio.sleep(self._delay)
        samples = self._inner.render(self._input_text)
        output_emitter.initialize(
            request_id="bench",
            sample_rate=self._inner.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        output_emitter.push(samples.tobytes())
        output_emitter.flush()


@dataclass
class CallSpec:
    """One call of a measurement."""

    impl: str
    folder: str
    offset: float = 0.0
    """Seconds after the common start at which the call begins."""
    voice: VoiceSpec = field(default_factory=VoiceSpec)
    repeat: int = 1
    """Calls run one after the other in the same process (``repeat`` > 1: warm caches)."""
    label: str = ""
    """Carried into each outcome's ``extra``."""
    clip_store: str | None = None
    """The worker's clip store directory (ours only; none by default)."""
    turn: dict[str, Any] = field(default_factory=dict)
    """``TurnOptions`` fields that differ from the defaults."""


def prewarm(*, warm: bool = True) -> float:
    """Our worker's prewarm (``warm``: all of it; else only the models); its CPU seconds."""
    from livekit.agents import JobExecutorType, JobProcess

    start = cpu_seconds()
    process = JobProcess(
        executor_type=JobExecutorType.PROCESS, user_arguments=None, http_proxy=None
    )
    if warm:
        worker_prewarm(process)
    else:
        load_models(process)
    return cpu_seconds() - start


LATE_AFTER_HANGUP = 60.0
"""A call still running this long after its caller hung up is stuck: it fails."""


SNAPSHOT_BEFORE_HANGUP = 1.0
"""A job process reads its memory once, this long before its caller hangs up (the call's
recording and state are then at their largest). Sampling memory all along would stall the
processes measured: the kernel walks a process's page tables under its memory-map lock."""


async def run_call(spec: CallSpec, *, snapshot: bool = False) -> list[harness.CallOutcome]:
    """Run ``spec`` after its offset; each outcome carries its own CPU seconds.

    With ``snapshot`` the first outcome's ``extra["memory"]`` holds this process's memory
    near the end of the call.
    """
    await asyncio.sleep(spec.offset)
    recorded = load(spec.folder)
    outcomes = []
    for index in range(spec.repeat):
        start = cpu_seconds()
        voice = spec.voice.build(recorded)
        reading: asyncio.Task[Memory | None] | None = None
        if snapshot and index == 0:
            reading = asyncio.create_task(_memory_at(recorded.hangup_at - SNAPSHOT_BEFORE_HANGUP))
        outcome = await asyncio.wait_for(
            harness.run(
                spec.impl,
                recorded,
                voice=voice,
                clip_store=ClipStore(Path(spec.clip_store)) if spec.clip_store else None,
                turn=TurnOptions(**spec.turn),
            ),
            recorded.hangup_at + LATE_AFTER_HANGUP,
        )
        outcome.cpu = cpu_seconds() - start
        outcome.extra.update(first_byte=spec.voice.first_byte, index=index, label=spec.label)
        if reading is not None:
            taken = await reading
            outcome.extra["memory"] = taken.__dict__ if taken else None
        outcomes.append(outcome)
    return outcomes


async def _memory_at(delay: float) -> Memory | None:
    await asyncio.sleep(max(delay, 0.0))
    return await asyncio.get_running_loop().run_in_executor(None, memory)


def peak_rss() -> float:
    """This process's peak resident memory so far, in MiB (kept by the kernel: free to read)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def warm_up(impl: str) -> None:
    """One short call, so that lazy first-call work is not measured (in-process runs)."""
    asyncio.run(run_call(CallSpec(impl=impl, folder=str(CALLS / "first_word"))))


# -- in one process ------------------------------------------------------------------------------


def in_process(specs: Sequence[CallSpec]) -> dict[str, Any]:
    """Run ``specs`` concurrently in this process (one event loop, like one worker job process
    serving every call); CPU and memory are this process's."""
    import gc

    warm_cpu = prewarm()
    for impl in sorted({s.impl for s in specs}):
        warm_up(impl)
    gc.collect()
    before = memory()
    start_cpu = cpu_seconds()
    start = time.perf_counter()

    async def all_calls() -> list[list[harness.CallOutcome]]:
        return await asyncio.gather(*(run_call(s) for s in specs))

    results = asyncio.run(all_calls())
    cpu = cpu_seconds() - start_cpu
    return {
        "model": "inproc",
        "wall": time.perf_counter() - start,
        "cpu": cpu,
        "warm_cpu": warm_cpu,
        "memory_before": before.__dict__ if before else None,
        "peak_rss": peak_rss(),
        "outcomes": [o.to_json() for outcomes in results for o in outcomes],
    }


# -- a process per call --------------------------------------------------------------------------


def job_main(
    spec: CallSpec,
    go: multiprocessing.synchronize.Event,
    results: multiprocessing.Queue[tuple[str, int, Any]],
    warm: bool,
) -> None:
    """A job process: prewarm, say ready, wait for the start, run the call, send the outcome."""
    import os

    prewarm(warm=warm)
    # CPU since the fork: importing this module (unpickling the target), then the prewarm
    results.put(("ready", os.getpid(), cpu_seconds()))
    go.wait()
    try:
        outcomes = asyncio.run(run_call(spec, snapshot=True))
    except BaseException as err:
        results.put(("error", os.getpid(), f"{type(err).__name__}: {err}"))
        return
    payload = {
        "outcomes": [o.to_json() for o in outcomes],
        "process_cpu": cpu_seconds(),
        "peak_rss": peak_rss(),
    }
    results.put(("done", os.getpid(), payload))


def per_process(
    specs: Sequence[CallSpec], *, warm: bool = True, timeout: float = 900.0
) -> dict[str, Any]:
    """Run each spec in its own process forked from a forkserver preloaded as our worker's
    (``WORKER_PRELOAD``), all at once; ``warm`` as in ``prewarm``."""
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_PRELOAD if warm else COLD_PRELOAD)
    go = context.Event()
    results: multiprocessing.Queue[tuple[str, int, Any]] = context.Queue()
    forkserver.ensure_running()
    server_pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    processes = [
        context.Process(target=job_main, args=(s, go, results, warm), daemon=True) for s in specs
    ]
    for process in processes:
        process.start()

    def receive(waiting: set[int]) -> tuple[str, int, Any] | None:
        """The next message; None once every process still awaited has died silently."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return results.get(timeout=2.0)
            except queue.Empty:
                if not any(p.is_alive() for p in processes if p.pid in waiting):
                    return None
        return None

    errors: list[str] = []
    pids = [p.pid for p in processes if p.pid is not None]

    def collect(kind: str, into: dict[int, Any], lost: str) -> None:
        """Receive every process's ``kind`` message into ``into``; anything else is an error."""
        while len(into) + len(errors) < len(processes):
            message = receive(set(pids) - set(into))
            if message is None:
                errors.append(lost)
                return
            got, pid, value = message
            if got == kind:
                into[pid] = value
            else:
                errors.append(str(value))

    warm_cpu: dict[int, float] = {}
    collect("ready", warm_cpu, "a job process died before its call")
    done: dict[int, Any] = {}
    server = memory(server_pid) if server_pid else None
    start = time.perf_counter()
    go.set()
    collect("done", done, "a job process died or hung during its call")
    wall = time.perf_counter() - start
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
    outcomes = [o for v in done.values() for o in v["outcomes"]]
    snapshots = [o["extra"]["memory"] for o in outcomes if o["extra"].get("memory")]
    return {
        "model": "process" if warm else "process-cold",
        "wall": wall,
        "errors": errors,
        "warm_cpu": list(warm_cpu.values()),
        "process_cpu": [v["process_cpu"] for v in done.values()],
        "peak_rss": [v["peak_rss"] for v in done.values()],
        "outcomes": outcomes,
        "memory_jobs": snapshots,
        "memory_server": server.__dict__ if server else None,
        "memory_total_pss": sum(m["pss"] for m in snapshots) + (server.pss if server else 0.0),
    }


def folder_name(path: str) -> str:
    """The call's folder name."""
    return Path(path).name

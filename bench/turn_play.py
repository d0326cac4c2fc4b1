"""Playing the benchmark's calls: ours and a bare ``AgentSession``, a process per call.

``run_calls`` plays calls at real speed, a process per call as the worker runs them (forked
from a server preloaded as our worker's, ``bench/jobs.py``), all at once:

- ``ours``: the production runtime (``agent_runtime.replay``: the ``CallRunner`` with the
  worker's turn-taking settings, ``CallSettings`` from the environment as the worker reads it);
- ``bare``: a plain livekit-agents ``AgentSession(stt=..., llm=..., tts=...)`` with the
  framework's defaults for everything else: its local VAD, its default end-of-turn model
  (``inference.TurnDetector()``, ``v1-mini`` offline), its endpointing and interruption
  settings and echo-cancellation warm-up.

Both hear the same caller audio, get the same streaming STT stand-in (``turn_stt.py``), the
same instant LLM and the same instant synthetic voice; both report when the caller heard
agent voice (stretches of voiced 20 ms frames at the output, on the caller-audio clock) and
when the session committed each caller turn.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import multiprocessing.synchronize
import os
import queue
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from livekit import rtc

from .turn_calls import GREETING
from .turn_stt import FINAL_DELAY, INTERIM_DELAY, Stretch

if TYPE_CHECKING:
    from agent_runtime.call.session import TurnOptions

MERGE_GAP = 0.3
"""Voiced frames this close together are one stretch: the voice's own gaps between words
and after commas, and an event loop held up for a moment, are no stop; a paused or cut
answer is silent for longer."""


# -- voice heard ---------------------------------------------------------------------------------


class VoiceTimeline:
    """Stretches of agent voice as the caller heard them, from the frames sent, wall time."""

    def __init__(self) -> None:
        self.stretches: list[list[float]] = []

    def frame(self, at: float, seconds: float, voiced: bool) -> None:
        """A frame sent at ``at`` lasting ``seconds``."""
        if not voiced:
            return
        if self.stretches and at - self.stretches[-1][1] <= MERGE_GAP:
            self.stretches[-1][1] = at + seconds
        else:
            self.stretches.append([at, at + seconds])

    def on_clock(self, zero: float) -> list[list[float]]:
        """The stretches in seconds from ``zero`` (wall time)."""
        return [[round(a - zero, 3), round(b - zero, 3)] for a, b in self.stretches]


def voiced(frame: rtc.AudioFrame) -> bool:
    """Whether ``frame`` carries sound (the benchmark's calls mix nothing under the voice)."""
    samples = np.frombuffer(frame.data, dtype=np.int16)
    return bool(samples.size) and int(np.abs(samples).max()) > 64


# -- running the calls ---------------------------------------------------------------------------


@dataclass
class CallJob:
    """One call to play: with which implementation, and the STT stand-in's timings."""

    impl: str
    folder: str
    stretches: list[tuple[float, float, str]]
    interim_delay: float = INTERIM_DELAY
    final_delay: float = FINAL_DELAY


@dataclass
class CallPlayed:
    """What a call did: the agent's voice on the caller-audio clock, and what ran."""

    impl: str
    folder: str
    voice: list[list[float]]
    commits: list[float] = field(default_factory=list)
    """When the session committed each caller turn (its end-of-turn decision)."""
    settings: dict[str, Any] = field(default_factory=dict)
    late_frames: int = 0


def worker_turn_options() -> TurnOptions:
    """The worker's turn-taking settings, as it reads them from the environment."""
    from agent_runtime.call.settings import CallSettings

    return CallSettings.from_env(os.environ).turn()


def shown(options: object) -> dict[str, Any]:
    """A dataclass's fields for the printout (values JSON can carry, others as text)."""
    values = {f.name: getattr(options, f.name) for f in fields(options)}  # type: ignore[arg-type]
    return {k: v if isinstance(v, bool | int | float | str) else repr(v) for k, v in values.items()}


async def play_ours(job: CallJob) -> CallPlayed:
    """Play ``job`` through the production runtime."""
    from livekit.agents import utils

    from agent_runtime.offline_tts import OfflineTTS
    from agent_runtime.replay.media import ReplayMedia, ReplaySink
    from agent_runtime.replay.recorded_call import RecordedCall
    from agent_runtime.replay.run import replay

    from .turn_stt import StreamingStandInSTT

    timeline = VoiceTimeline()

    class HeardSink(ReplaySink):
        async def write(self, frame: rtc.AudioFrame) -> None:
            timeline.frame(time.time(), frame.duration, voiced(frame))

    class HeardMedia(ReplayMedia):
        def __init__(self, recorded: RecordedCall) -> None:
            super().__init__(recorded)
            self._heard = HeardSink()

        @property
        def sink(self) -> ReplaySink:
            return self._heard

    recorded = RecordedCall.load(job.folder)
    media = HeardMedia(recorded)
    stt = StreamingStandInSTT(
        [Stretch(*s) for s in job.stretches],
        media.playhead,
        interim_delay=job.interim_delay,
        final_delay=job.final_delay,
    )
    turn = worker_turn_options()
    async with utils.http_context.open():
        result = await replay(
            recorded,
            voice=OfflineTTS(engine="synthetic"),
            turn=turn,
            media=media,
            transcriber=stt,
        )
    zero = media.caller_audio.started_at_wall or 0.0
    commits = [
        round(row.user_stopped_speaking + row.end_of_turn_delay - result.caller_offset, 3)
        for row in result.call.report.runtime.latency
        if row.end_of_turn_delay is not None
    ]
    return CallPlayed(
        "ours",
        job.folder,
        timeline.on_clock(zero),
        sorted(commits),
        shown(turn),
        result.call.output_stats.late_frames,
    )


async def play_bare(job: CallJob) -> CallPlayed:
    """Play ``job`` through a plain ``AgentSession`` with the framework's defaults."""
    from livekit.agents import Agent, AgentSession, llm, utils
    from livekit.agents.voice.events import ConversationItemAddedEvent
    from livekit.plugins import openai

    from agent_runtime.offline_tts import OfflineTTS
    from agent_runtime.replay.llm_server import ScriptedLLMServer
    from agent_runtime.replay.local_server import serve
    from agent_runtime.replay.media import ReplayAudioInput
    from agent_runtime.replay.recorded_call import RecordedCall

    from .harness import PacedOutput
    from .turn_stt import StreamingStandInSTT

    timeline = VoiceTimeline()

    class HeardOutput(PacedOutput):
        def _next_frame(self) -> bytes:
            before = self.voice_end
            chunk = super()._next_frame()
            timeline.frame(time.time(), 0.02, self.voice_end != before)
            return chunk

    class Greeter(Agent):
        async def on_enter(self) -> None:
            await asyncio.sleep(0.4)
            self.session.say(GREETING)

    recorded = RecordedCall.load(job.folder)
    caller = ReplayAudioInput(recorded)
    stt = StreamingStandInSTT(
        [Stretch(*s) for s in job.stretches],
        lambda: caller.position,
        interim_delay=job.interim_delay,
        final_delay=job.final_delay,
    )
    server = ScriptedLLMServer(recorded.llm, model="gpt-4.1")
    output = HeardOutput()
    commits: list[float] = []

    def on_item(ev: ConversationItemAddedEvent) -> None:
        if isinstance(ev.item, llm.ChatMessage) and ev.item.role == "user":
            metrics = ev.item.metrics or {}
            stopped, delay = metrics.get("stopped_speaking_at"), metrics.get("end_of_turn_delay")
            if stopped is not None and delay is not None:
                commits.append(stopped + delay)

    async with utils.http_context.open(), serve(server.app) as base_url:
        session: AgentSession = AgentSession(
            stt=stt,
            llm=openai.LLM(model=server.model, base_url=f"{base_url}/v1", api_key="bench"),
            tts=OfflineTTS(engine="synthetic"),
        )
        session.on("conversation_item_added", on_item)
        session.input.audio = caller
        session.output.audio = output
        output.start()
        await session.start(Greeter(instructions="You are Alex at Acme."), record=False)
        await caller.hung_up.wait()
        await session.aclose()
        await output.aclose()
        detector = session.turn_detection
    zero = caller.started_at_wall or 0.0
    settings = {"turn_detection": f"{type(detector).__module__}.{type(detector).__name__}"}
    model = getattr(detector, "model", None)
    if isinstance(model, str):
        settings["model"] = model
    on_clock = sorted(round(c - zero, 3) for c in commits)
    return CallPlayed(
        "bare", job.folder, timeline.on_clock(zero), on_clock, settings, output.late_frames
    )


def _job_main(
    job: CallJob,
    go: multiprocessing.synchronize.Event,
    results: multiprocessing.Queue[tuple[str, str]],
) -> None:
    """A job process: the worker's prewarm, then the call when told."""
    import logging

    from .jobs import prewarm

    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("livekit.agents").setLevel(logging.CRITICAL)
    prewarm()
    results.put(("ready", ""))
    go.wait()
    play = play_ours if job.impl == "ours" else play_bare
    try:
        played = asyncio.run(play(job))
    except Exception as err:  # reported to the parent, which prints it
        results.put(("error", f"{job.impl} {Path(job.folder).name}: {type(err).__name__}: {err}"))
        return
    results.put(("done", json.dumps(asdict(played))))


def run_calls(jobs: Sequence[CallJob], *, timeout: float) -> tuple[list[CallPlayed], list[str]]:
    """Play ``jobs`` at once, a process each; their outcomes, and the errors."""
    from .jobs import WORKER_PRELOAD

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_PRELOAD)
    go = context.Event()
    results: multiprocessing.Queue[tuple[str, str]] = context.Queue()
    processes = [
        context.Process(target=_job_main, args=(job, go, results), daemon=True) for job in jobs
    ]
    for process in processes:
        process.start()
    played: list[CallPlayed] = []
    errors: list[str] = []
    ready = 0
    deadline = time.monotonic() + timeout
    try:
        while len(played) + len(errors) < len(jobs) and time.monotonic() < deadline:
            try:
                kind, value = results.get(timeout=2.0)
            except queue.Empty:
                dead = sum(1 for p in processes if p.exitcode is not None)
                if dead == len(processes):
                    errors.append("the job processes died")
                    break
                if not go.is_set() and ready + dead == len(jobs):
                    go.set()
                continue
            if kind == "ready":
                ready += 1
                if ready == len(jobs):
                    go.set()
            elif kind == "done":
                played.append(CallPlayed(**json.loads(value)))
            else:
                errors.append(value)
        if len(played) + len(errors) < len(jobs):
            errors.append(f"{len(jobs) - len(played) - len(errors)} calls did not finish")
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
    return played, errors

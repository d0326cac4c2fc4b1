"""The calls of the turn-taking benchmark: a turn set laid out on call timelines, and played.

``plan_calls`` deals the turns of a set to a few concurrent calls and places them on each
call's caller-audio clock: the first after the greeting, each turn's speech ``gap`` seconds
after the previous turn's speech ended. A backchannel or an interruption is placed while the
agent speaks its long answer to the turn before it (``OVERLAP_AFTER`` after that turn's end,
past the framework's 3 s echo-cancellation warm-up during which it ignores interruptions);
the next turn waits until that answer is surely over.

``write_call`` turns a planned call into a recorded-call folder (``docs/replay.md``): the
caller audio, the instant LLM's script (a fixed short answer; the long answer to a turn that
is followed by a backchannel or an interruption), and the caller's hang-up.

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
agent voice (stretches of voiced 20 ms frames at the output, on the caller-audio clock).
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile
from livekit import rtc

from agent_runtime.offline_tts import SAMPLE_RATE, synthetic_voice

from .turn_form import TurnEntry, read_audio, segment_times
from .turn_stt import FINAL_DELAY, INTERIM_DELAY, Stretch

SHORT_ANSWER = "All right I can help with that."
LONG_ANSWER = (
    "Let me explain how that works. First we check your account and the details you gave us."
    " Then we send a confirmation by text message and by email. After that a member of our"
    " team calls you back within two working days to finish everything."
)
"""Said over a backchannel or an interruption; no comma: its voice has no pause to be
mistaken for the agent stopping."""
GREETING = "Hello this is Alex from Acme support. How can I help you today?"
LEAD_IN = 6.0
"""The first turn's speech starts this long into the caller audio (after the greeting)."""
GAP = 7.0
OVERLAP_AFTER = 6.0
"""A backchannel or interruption starts this long after the end of the turn before it."""
ANSWER_WAIT = 3.0
"""The longest any implementation is expected to take to start answering."""
TAIL = 7.0
"""The caller hangs up this long after the last turn's speech."""
MERGE_GAP = 0.1
"""Voiced frames this close together are one stretch (the voice's own gaps between words)."""


def answer_seconds(text: str) -> float:
    """How long the synthetic voice speaks ``text``."""
    return len(synthetic_voice(text)) / SAMPLE_RATE


# -- the plan ------------------------------------------------------------------------------------


@dataclass
class PlacedTurn:
    """A turn on its call's caller-audio clock, in seconds."""

    index: int
    """Its index in the turn set."""
    kind: str
    family: str
    category: str
    file_start: float
    segments: list[list[float]]
    """[start, end] of each stretch of speech."""
    texts: list[str]
    long_answer: bool = False
    """The agent's answer to it is long (a backchannel or interruption follows)."""

    @property
    def speech_start(self) -> float:
        """When the caller starts speaking."""
        return self.segments[0][0]

    @property
    def speech_end(self) -> float:
        """When the caller stops speaking."""
        return self.segments[-1][1]


@dataclass
class PlannedCall:
    """One call: its turns in order, and when the caller hangs up."""

    name: str
    turns: list[PlacedTurn] = field(default_factory=list)
    hangup_at: float = 0.0

    def stretches(self) -> list[Stretch]:
        """The caller's speech, for the STT stand-in."""
        return [
            Stretch(start, end, text)
            for turn in self.turns
            for (start, end), text in zip(turn.segments, turn.texts, strict=True)
        ]


def deal(entries: Sequence[TurnEntry], calls: int) -> list[list[int]]:
    """Entry indices per call: turns dealt in turn, each overlap after a one-stretch turn.

    Backchannels and interruptions are dealt in turn too, each after a turn of its call that
    is one stretch of speech (the long answer is keyed on its words), spread over the call.
    """
    turns = [i for i, e in enumerate(entries) if e.kind == "turn"]
    overlaps = [i for i, e in enumerate(entries) if e.kind != "turn"]
    dealt = [turns[c::calls] for c in range(calls)]
    for number, index in enumerate(overlaps):
        order = dealt[number % calls]
        taken = {order[p - 1] for p, i in enumerate(order) if entries[i].kind != "turn"}
        hosts = [
            p
            for p, i in enumerate(order)
            if entries[i].kind == "turn"
            and len(entries[i].segments) == 1
            and i not in taken
            and (p + 1 >= len(order) or entries[order[p + 1]].kind == "turn")
        ]
        if not hosts:
            raise ValueError("a backchannel or interruption has no one-stretch turn to follow")
        host = hosts[len(hosts) // 2]
        order.insert(host + 1, index)
    return [d for d in dealt if d]


def plan_calls(
    entries: Sequence[TurnEntry],
    times: Sequence[list[list[float]]],
    lengths: Sequence[float],
    *,
    calls: int = 4,
    gap: float = GAP,
) -> list[PlannedCall]:
    """Place the turns on ``calls`` calls; ``times``: each entry's segment times in its
    file, ``lengths``: each file's length in seconds."""
    long_answer = answer_seconds(LONG_ANSWER)
    planned = []
    for number, order in enumerate(deal(entries, calls)):
        call = PlannedCall(f"call_{number + 1}")
        speech_at = LEAD_IN
        previous: PlacedTurn | None = None
        for index in order:
            entry = entries[index]
            if entry.kind != "turn" and previous is not None:
                previous.long_answer = True
                speech_at = previous.speech_end + OVERLAP_AFTER
            file_start = speech_at - times[index][0][0]
            placed = PlacedTurn(
                index=index,
                kind=entry.kind,
                family=entry.family,
                category=entry.category,
                file_start=round(file_start, 3),
                segments=[
                    [round(file_start + a, 3), round(file_start + b, 3)] for a, b in times[index]
                ],
                texts=list(entry.segments),
            )
            call.turns.append(placed)
            speech_at = placed.speech_end + gap
            if entry.kind != "turn" and previous is not None:
                answer_over = previous.speech_end + ANSWER_WAIT + long_answer + 1.0
                speech_at = max(speech_at, answer_over)
            previous = placed if entry.kind == "turn" else None
            call.hangup_at = round(max(call.hangup_at, file_start + lengths[index]), 3)
        call.hangup_at = round(max(call.hangup_at, call.turns[-1].speech_end + TAIL), 3)
        planned.append(call)
    return planned


def mix_caller(
    call: PlannedCall, audios: Sequence[npt.NDArray[np.float64]], rate: int
) -> npt.NDArray[np.int16]:
    """The call's caller audio: each turn's file at its place."""
    out = np.zeros(int(call.hangup_at * rate) + 1)
    for turn in call.turns:
        audio = audios[turn.index]
        begin = int(round(turn.file_start * rate))
        out[begin : begin + len(audio)] += audio[: len(out) - begin]
    return np.asarray(np.clip(out * 32768, -32768, 32767), dtype=np.int16)


def _resampled(audio: npt.NDArray[np.float64], rate: int, to: int) -> npt.NDArray[np.float64]:
    if rate == to:
        return audio
    resampler = rtc.AudioResampler(rate, to, quality=rtc.AudioResamplerQuality.HIGH)
    pcm = np.asarray(np.clip(audio * 32768, -32768, 32767), dtype=np.int16)
    frames = resampler.push(bytearray(pcm.tobytes())) + resampler.flush()
    data = b"".join(bytes(f.data.cast("B")) for f in frames)
    return np.frombuffer(data, dtype=np.int16) / 32768.0


def write_calls(
    folder: Path, entries: Sequence[TurnEntry], out: Path, *, calls: int, gap: float
) -> list[PlannedCall]:
    """Plan the turn set in ``folder`` and write each call as a recorded call under ``out``."""
    loaded = [read_audio(folder, e) for e in entries]
    rate = loaded[0][1]
    audios = [_resampled(a, r, rate) for a, r in loaded]
    times = [segment_times(e, a, rate) for e, (a, _) in zip(entries, loaded, strict=True)]
    lengths = [len(a) / rate for a in audios]
    planned = plan_calls(entries, times, lengths, calls=calls, gap=gap)
    for call in planned:
        write_call(out / call.name, call, mix_caller(call, audios, rate), rate)
    return planned


def write_call(path: Path, call: PlannedCall, audio: npt.NDArray[np.int16], rate: int) -> None:
    """``call`` as a recorded-call folder."""
    path.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path / "caller.wav"), audio, rate, subtype="PCM_16")
    config = {
        "call": {
            "id": f"call_bench_turns_{call.name}",
            "direction": "inbound",
            "from_phone_number": "+14155550123",
            "to_phone_number": "+14155550100",
            "assistant": {
                "name": "Acme support",
                "prompt": "You are Alex, a friendly support agent at Acme. Keep answers short.",
                "first_sentence_mode": "static",
                "first_sentence": GREETING,
                "first_sentence_delay_ms": 400,
                "voice": {"id": "offline", "provider": "cartesia"},
                "llm_model": {"type": "dedicated-instance", "name": "gpt-4.1"},
            },
        }
    }
    instant = {"ttft": 0.0, "token_interval": 0.0}
    answers: list[dict[str, Any]] = [
        {"when": {"user_contains": t.texts[-1]}, "text": LONG_ANSWER, **instant}
        for t in call.turns
        if t.long_answer
        for _ in range(3)  # served again if the turn is answered again
    ]
    answers.append({"text": SHORT_ANSWER, **instant})
    utterances = [
        {"start": s.start, "end": s.end, "text": s.text, "delay": FINAL_DELAY}
        for s in call.stretches()
    ]
    (path / "call.json").write_text(json.dumps(config, indent=1))
    (path / "llm.json").write_text(json.dumps({"answers": answers}, indent=1))
    (path / "stt.json").write_text(json.dumps({"utterances": utterances}, indent=1))
    (path / "caller.json").write_text(json.dumps({"hangup_at": call.hangup_at}))


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
    settings: dict[str, Any] = field(default_factory=dict)
    late_frames: int = 0


def ours_settings() -> dict[str, Any]:
    """The worker's turn-taking settings, as it reads them from the environment."""
    from agent_runtime.call.settings import CallSettings

    return asdict(CallSettings.from_env(os.environ).turn())


async def play_ours(job: CallJob) -> CallPlayed:
    """Play ``job`` through the production runtime."""
    from livekit.agents import utils

    from agent_runtime.call.session import TurnOptions
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
    settings = ours_settings()
    async with utils.http_context.open():
        result = await replay(
            recorded,
            voice=OfflineTTS(engine="synthetic"),
            turn=TurnOptions(**settings),
            media=media,
            transcriber=stt,
        )
    zero = media.caller_audio.started_at_wall or 0.0
    return CallPlayed(
        "ours",
        job.folder,
        timeline.on_clock(zero),
        settings,
        result.call.output_stats.late_frames,
    )


async def play_bare(job: CallJob) -> CallPlayed:
    """Play ``job`` through a plain ``AgentSession`` with the framework's defaults."""
    from livekit.agents import Agent, AgentSession, utils
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
    async with utils.http_context.open(), serve(server.app) as base_url:
        llm = openai.LLM(model=server.model, base_url=f"{base_url}/v1", api_key="bench")
        session: AgentSession = AgentSession(stt=stt, llm=llm, tts=OfflineTTS(engine="synthetic"))
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
    return CallPlayed("bare", job.folder, timeline.on_clock(zero), settings, output.late_frames)


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

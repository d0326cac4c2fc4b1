"""One call, two ways: through our runtime, and through a bare livekit-agents session.

``run_ours`` is ``agent_runtime.replay.run.replay``: the production ``CallRunner`` (clips,
tools, report recorder, transcript synchroniser, mixer, recording) on replayed media.

``run_bare`` is the baseline: a plain ``AgentSession`` with the same fakes (the scripted LLM
served to the real OpenAI plugin, the recorded transcripts, the synthetic voice), the same VAD
and end-of-turn model and the same turn-taking settings, on the same audio, through a minimal
``AudioInput`` from the WAV and a minimal paced ``AudioOutput``. No runner, no mixer, no
recording, no report. Its greeting is said with live TTS.

Both return a ``CallOutcome`` on the same time base (seconds from the start of the call), so
the benchmarks read them the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, llm, tts, utils
from livekit.agents.voice import io
from livekit.agents.voice.events import ConversationItemAddedEvent

from agent_runtime.call.clip_store import ClipStore
from agent_runtime.call.session import TurnOptions, build_session
from agent_runtime.config.loading import load_file
from agent_runtime.offline_tts import OfflineTTS
from agent_runtime.providers import Providers, build_turn_detector, build_vad
from agent_runtime.replay.llm_server import ScriptedLLMServer
from agent_runtime.replay.local_server import serve
from agent_runtime.replay.media import ReplayAudioInput
from agent_runtime.replay.recorded_call import RecordedCall
from agent_runtime.replay.run import _model_name, replay
from agent_runtime.replay.stt import ReplaySTT

from .common import FRAME_SECONDS

OUTPUT_RATE = 24000
"""The output rate of both (our replay media's rate)."""


@dataclass
class CallOutcome:
    """What a call did, in seconds from its start (for ours: the runner's creation)."""

    impl: str
    name: str
    duration: float
    frames: int
    late_frames: int
    late_seconds: float
    """The gaps the late frames left, in total (see ``OutputStats.late_seconds``)."""
    caller_offset: float
    """When ``caller.wav`` started playing."""
    longest_gap: float = 0.0
    """The longest single gap a late frame left."""
    voice_end: float | None = None
    """When the agent's last voice frame ended (the caller heard it until then)."""
    voice_starts: list[float] = field(default_factory=list)
    """The first frame of each stretch of agent voice the caller heard."""
    commits: list[float] = field(default_factory=list)
    """When each caller turn was committed (end of speech + end-of-turn delay)."""
    cpu: float = 0.0
    """CPU seconds, when the caller measured them for this call alone (a process per call)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def first_voice(self) -> float | None:
        """When the caller first heard the agent."""
        return self.voice_starts[0] if self.voice_starts else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallOutcome:
        """Read ``to_json``'s dict back."""
        return cls(**data)


def synthetic_voice(recorded: RecordedCall) -> OfflineTTS:
    """The instant fake voice, at the call's voice speed."""
    spec = load_file(recorded.config_path)
    speed = spec.assistant.voice.speed if spec.assistant.voice else 1.0
    return OfflineTTS(engine="synthetic", speed=speed)


async def run_ours(
    recorded: RecordedCall,
    *,
    voice: tts.TTS | None = None,
    clip_store: ClipStore | None = None,
    turn: TurnOptions | None = None,
) -> CallOutcome:
    """Replay ``recorded`` through our runtime at the loop's pace."""
    # the worker opens the job's http context before it builds the providers and the runner
    async with utils.http_context.open():
        result = await replay(
            recorded, voice=voice or synthetic_voice(recorded), clip_store=clip_store, turn=turn
        )
    report = result.call.report
    speech = report.runtime.speech
    commits = [
        row.user_stopped_speaking + row.end_of_turn_delay
        for row in report.runtime.latency
        if row.end_of_turn_delay is not None
    ]
    stats = result.call.output_stats
    return CallOutcome(
        impl="ours",
        name=recorded.folder.name,
        duration=report.runtime.duration or 0.0,
        frames=stats.frames,
        late_frames=stats.late_frames,
        late_seconds=stats.late_seconds,
        caller_offset=result.caller_offset,
        longest_gap=stats.longest_gap,
        voice_end=max((s.end for s in speech if s.role == "assistant"), default=None),
        voice_starts=[s.start for s in speech if s.role == "assistant"],
        commits=sorted(commits),
    )


# -- the bare baseline ---------------------------------------------------------------------------


@dataclass
class _Segment:
    data: bytearray = field(default_factory=bytearray)
    read: int = 0
    played: int = 0
    flushed: bool = False
    started: bool = False
    cleared: bool = False

    @property
    def pending(self) -> int:
        return len(self.data) - self.read


class PacedOutput(io.AudioOutput):
    """A minimal paced audio output: one 20 ms frame every 20 ms, dropped after pacing.

    Voice is queued per segment as bytes; the pacer sends the next 20 ms of it (or silence)
    and counts a frame as late exactly as our output stream does (more than a frame behind
    its deadline, after which the schedule restarts from now).
    """

    def __init__(self, *, sample_rate: int = OUTPUT_RATE) -> None:
        super().__init__(
            label="PacedOutput",
            capabilities=io.AudioOutputCapabilities(pause=True),
            sample_rate=sample_rate,
        )
        self._rate = sample_rate
        self._frame_bytes = int(sample_rate * FRAME_SECONDS) * 2
        self._silence = bytes(self._frame_bytes)
        self._segments: deque[_Segment] = deque()
        self._capturing: _Segment | None = None
        self._paused = False
        self._task: asyncio.Task[None] | None = None
        self.frames = 0
        self.late_frames = 0
        self.late_seconds = 0.0
        self.longest_gap = 0.0
        self.voice_starts: list[float] = []
        self.voice_end: float | None = None

    def start(self) -> None:
        """Start pacing."""
        self._task = asyncio.create_task(self._pace(), name="bare-pacer")

    async def aclose(self) -> None:
        """Stop pacing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        """Queue voice."""
        await super().capture_frame(frame)
        if self._capturing is None:
            self._capturing = _Segment()
            self._segments.append(self._capturing)
        if not self._capturing.cleared:
            self._capturing.data += frame.data.cast("B")

    def flush(self) -> None:
        """End the segment being captured."""
        super().flush()
        segment, self._capturing = self._capturing, None
        if segment is None:
            return
        segment.flushed = True
        if segment.cleared or (not segment.pending and not segment.started):
            self._finish(segment, interrupted=segment.cleared)

    def clear_buffer(self) -> None:
        """Drop the queued voice (an interruption)."""
        for segment in list(self._segments):
            if segment is self._capturing:
                segment.cleared = True
                segment.read = len(segment.data)
                continue
            self._finish(segment, interrupted=True)

    def pause(self) -> None:
        """Hold the voice."""
        super().pause()
        self._paused = True

    def resume(self) -> None:
        """Continue the voice."""
        super().resume()
        self._paused = False

    def _finish(self, segment: _Segment, *, interrupted: bool) -> None:
        if segment in self._segments:
            self._segments.remove(segment)
        self.on_playback_finished(
            playback_position=segment.played / self._rate, interrupted=interrupted
        )

    def _next_frame(self) -> bytes:
        if self._paused or not self._segments:
            return self._silence
        segment = self._segments[0]
        if segment.cleared:
            return self._silence
        chunk = bytes(segment.data[segment.read : segment.read + self._frame_bytes])
        segment.read += len(chunk)
        if chunk and not segment.started:
            segment.started = True
            now = time.time()
            self.voice_starts.append(now)
            self.on_playback_started(created_at=now)
        segment.played += len(chunk) // 2
        if chunk:
            self.voice_end = time.time() + len(chunk) / 2 / self._rate
        if segment.flushed and not segment.pending:
            self._finish(segment, interrupted=False)
        return chunk + self._silence[len(chunk) :]

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        samples = self._frame_bytes // 2
        while True:
            frame = rtc.AudioFrame(self._next_frame(), self._rate, 1, samples)
            del frame  # the sink: nobody listens
            self.frames += 1
            deadline += FRAME_SECONDS
            delay = deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -FRAME_SECONDS:
                self.late_frames += 1
                self.late_seconds -= delay
                self.longest_gap = max(self.longest_gap, -delay)
                deadline = loop.time()


class _GreetingAgent(Agent):
    def __init__(self, instructions: str, greeting: str | None, delay: float) -> None:
        super().__init__(instructions=instructions)
        self._greeting = greeting
        self._delay = delay

    async def on_enter(self) -> None:
        if self._greeting:
            await asyncio.sleep(self._delay)
            self.session.say(self._greeting)  # live TTS: nothing rendered ahead


async def run_bare(
    recorded: RecordedCall, *, voice: tts.TTS | None = None, turn: TurnOptions | None = None
) -> CallOutcome:
    """Play ``recorded`` through a bare ``AgentSession`` at the loop's pace."""
    from livekit.plugins import openai

    spec = load_file(recorded.config_path)
    server = ScriptedLLMServer(recorded.llm, model=_model_name(spec.llm_model))
    caller = ReplayAudioInput(recorded)
    commits: list[float] = []
    async with utils.http_context.open(), serve(server.app) as base_url:
        providers = Providers(
            stt=ReplaySTT(list(recorded.stt.utterances), lambda: caller.position),
            llm=openai.LLM(model=server.model, base_url=f"{base_url}/v1", api_key="bench"),
            tts=voice or synthetic_voice(recorded),
            vad=build_vad(),
            turn_detector=build_turn_detector(),
        )
        # the call starts here, as ours starts when the runner is created (after its providers)
        started = time.time()
        output = PacedOutput()
        # a plain AgentSession
        session: AgentSession = build_session(providers, turn or TurnOptions())

        def on_item(ev: ConversationItemAddedEvent) -> None:
            item = ev.item
            if isinstance(item, llm.ChatMessage) and item.role == "user":
                metrics = item.metrics or {}
                stopped = metrics.get("stopped_speaking_at")
                delay = metrics.get("end_of_turn_delay")
                if stopped is not None and delay is not None:
                    commits.append(stopped + delay)

        session.on("conversation_item_added", on_item)
        session.input.audio = caller
        session.output.audio = output
        assistant = spec.assistant
        greeting = spec.first_sentence if assistant.first_sentence_mode == "static" else None
        agent = _GreetingAgent(spec.instructions, greeting, spec.first_sentence_delay_ms / 1000)
        output.start()
        await session.start(agent, record=False)
        await caller.hung_up.wait()
        ended = time.time()
        await session.aclose()
        await output.aclose()
    offset = (caller.started_at_wall or started) - started
    return CallOutcome(
        impl="bare",
        name=recorded.folder.name,
        duration=round(ended - started, 3),
        frames=output.frames,
        late_frames=output.late_frames,
        late_seconds=output.late_seconds,
        caller_offset=round(offset, 3),
        longest_gap=output.longest_gap,
        voice_end=None if output.voice_end is None else round(output.voice_end - started, 3),
        voice_starts=[round(t - started, 3) for t in output.voice_starts],
        commits=sorted(round(t - started, 3) for t in commits),
    )


async def run(
    impl: str,
    recorded: RecordedCall,
    *,
    voice: tts.TTS | None = None,
    clip_store: ClipStore | None = None,
    turn: TurnOptions | None = None,
) -> CallOutcome:
    """Run one call with ``impl`` (``ours`` or ``bare``; only ours keeps a clip store)."""
    if impl == "ours":
        return await run_ours(recorded, voice=voice, clip_store=clip_store, turn=turn)
    if impl == "bare":
        return await run_bare(recorded, voice=voice, turn=turn)
    raise ValueError(f"unknown implementation {impl!r}")

"""The call runner: the only place that knows the order of a call.

Build the session from the config, greet, converse, end (caller hang-up, end-call tool, max
duration, or a session that failed), hang up, and return the call report. Worker, console and
replay differ only in the media and telephony adapters they pass in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from livekit.agents import AgentSession, utils
from livekit.agents.voice.events import CloseEvent
from livekit.agents.voice.speech_handle import SpeechHandle
from livekit.agents.voice.transcription.synchronizer import TranscriptSynchronizer

from agent_runtime.plugins import build_tools

from ..config.spec import CallSpec
from ..log import logger
from ..media.output import CallAudioOutput, OutputStats
from ..media.ports import MediaPort, TelephonyPort
from ..media.recording import CallRecording, TappedAudioInput
from ..media.sounds import CallSounds
from ..providers import Providers
from ..report.model import CallReport, TranscriptRow
from ..report.recorder import ReportRecorder
from .agent import AssistantAgent
from .clip_store import ClipStore
from .clips import Clip, Clips, StaticSentence, render
from .context import PluginContext
from .ending import END_CALL_TOOL, LLM_DOWN, MAX_DURATION, USER_HANGUP, CallEnding, Outcome
from .recovery import TurnRecovery
from .session import TurnOptions, build_session

FAREWELL_BUDGET = 20.0
"""Most time a goodbye may take; the call is hung up when it runs out, whatever hangs."""
CLIP_WAIT = 3.0
"""How long a goodbye waits for its pre-rendered audio before rendering it live."""
FIRST_CLIP_WAIT = 1.5
"""How long the static greeting waits for the first frame of its rendering before using live
TTS (the rendering plays as it comes: a cold cache costs the TTS's first byte, no more)."""
RECOVERY_LINE = "Sorry, I missed that. Could you say it again?"
"""Said when the LLM fails a turn after its retries, so the caller is not left in silence."""
FAILURE_LINE = (
    "I am sorry, we are having technical difficulties. Please call us back later. Goodbye."
)
"""Said before hanging up when the providers keep failing and the session gives up."""
STEP_TIMEOUT = 5.0
"""Bound on each teardown step (hang up, session close): a worker job is cancelled 15 s after
its room is gone, and the report must be written before that."""


@dataclass(frozen=True)
class RunOptions:
    """How to run a call, beyond its config."""

    turn: TurnOptions = field(default_factory=TurnOptions)
    output_dir: Path | None = None
    """Where ``report.json`` and ``recording.wav`` are written (nothing written when None)."""
    attempt_id: str | None = None
    started_at: float | None = None
    """When the call attempt started (dialling), if before the runner; default: now."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Settings and credentials of the integrations (SMS, Calendly, HTTP tools...)."""
    typed_turns: AsyncIterator[str] | None = None
    """Caller turns typed as text (the console's text mode), taken as said."""
    on_row: Callable[[TranscriptRow], None] | None = None
    """Called with every transcript row as it is added (the console prints them)."""
    recovery_line: str | None = RECOVERY_LINE
    """Said when the LLM fails a turn; None: say nothing."""
    failure_line: str | None = FAILURE_LINE
    """Said before hanging up a call whose session failed; None: hang up silently."""
    clip_store: ClipStore | None = None
    """Where rendered sentences without prompt variables are kept for later calls (the worker:
    ``AGENT_CLIP_CACHE_DIR``); None: in this process's memory only."""


@dataclass(frozen=True)
class CallResult:
    """The report of a call and the files written for it."""

    report: CallReport
    report_path: Path | None
    recording_path: Path | None
    output_stats: OutputStats


class CallRunner:
    """Runs one call and produces its report."""

    def __init__(
        self,
        spec: CallSpec,
        providers: Providers,
        media: MediaPort,
        telephony: TelephonyPort,
        options: RunOptions | None = None,
    ) -> None:
        self._spec = spec
        self._providers = providers
        self._media = media
        self._telephony = telephony
        self._options = options or RunOptions()
        self._ending = CallEnding()
        self._finished = asyncio.Event()
        self._closed = asyncio.Event()
        self._close_event: CloseEvent | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        attempt_id = self._options.attempt_id or f"att_{uuid.uuid4().hex[:16]}"
        self._recorder = ReportRecorder(
            spec,
            attempt_id=attempt_id,
            started_at=self._options.started_at,
            on_row=self._options.on_row,
        )
        voice = spec.assistant.voice
        gain = voice.volume if voice and voice.provider == "elevenlabs" else 1.0
        self._output = CallAudioOutput(media.sink, sample_rate=media.sample_rate, voice_gain=gain)
        self._recording = CallRecording(media.sample_rate, origin=self._recorder.started_at)
        self._session: AgentSession | None = None
        self._synchronizer: TranscriptSynchronizer | None = None
        self._clips: Clips | None = None
        self._ended_at: float | None = None

    @property
    def output(self) -> CallAudioOutput:
        """The call's output stream (issue-specific layers are added to it before ``run``)."""
        return self._output

    # -- CallControl, for tools ----------------------------------------------------------------

    def end_after(self, speech: SpeechHandle, *, farewell: str | None) -> None:
        """End the call once ``speech`` is done (the end-call tool)."""
        if self._session is not None:
            self._session.input.set_audio_enabled(False)
        speech.add_done_callback(
            lambda _: self._spawn(self._farewell(END_CALL_TOOL, "end_of_call_sentence", farewell))
        )

    def event(self, type: str, **detail: str | int | float | bool | None) -> None:
        """Record a call event in the report."""
        self._recorder.event(type, **detail)

    # -- the call ------------------------------------------------------------------------------

    async def run(self) -> CallResult:
        """Run the call to its end and return the report; never raises for a call failure."""
        async with utils.http_context.open():
            try:
                await self._converse()
            except Exception as err:
                logger.exception("call failed")
                self._ending.decide(
                    Outcome("system", "error", status="error", error=type(err).__name__)
                )
            finally:
                try:
                    await self._teardown()
                finally:
                    result = self._result()  # written even if the teardown is cancelled
        return result

    async def _converse(self) -> None:
        spec, providers = self._spec, self._providers
        self._recorder.answered_at = time.time()
        self._output.add_tap(self._recording.heard)
        assistant, options = spec.assistant, self._options
        static_greeting = assistant.first_sentence_mode == "static"
        self._clips = Clips(
            providers.tts,
            self._voice_key(),
            {
                "first_sentence": _sentence(
                    spec.first_sentence if static_greeting else None, assistant.first_sentence
                ),
                "end_of_call_sentence": _sentence(
                    spec.end_of_call_sentence, assistant.end_of_call_sentence
                ),
                "max_duration_end_message": _sentence(
                    spec.max_duration_end_message, assistant.max_duration_end_message
                ),
                "voicemail_message": _sentence(spec.voicemail_message, assistant.voicemail_message),
                "recovery_line": _sentence(options.recovery_line, options.recovery_line),
                "failure_line": _sentence(options.failure_line, options.failure_line),
            },
            store=options.clip_store,
        )
        session = build_session(providers, self._options.turn)
        self._session = session
        sounds = CallSounds.for_call(spec, sample_rate=self._media.sample_rate)
        for layer in sounds.layers:
            self._output.add_layer(layer)
        sounds.attach(session)
        tools = build_tools(
            PluginContext(spec=spec, control=self, telephony=self._telephony, env=self._options.env)
        )
        clips = self._clips
        agent = AssistantAgent(
            spec,
            tools,
            lambda: clips.stream("first_sentence", first_frame_within=FIRST_CLIP_WAIT),
        )
        session.input.audio = TappedAudioInput(self._media.caller_audio, self._recording)
        synchronizer = TranscriptSynchronizer(
            next_in_chain_audio=self._output, next_in_chain_text=None
        )
        session.output.audio = synchronizer.audio_output
        session.output.transcription = synchronizer.text_output
        session.on("close", self._on_close)
        TurnRecovery(
            session,
            line=self._options.recovery_line,
            audio=lambda: clips.stream("recovery_line", first_frame_within=CLIP_WAIT),
            active=lambda: self._ending.outcome is None and not self._closed.is_set(),
            spawn=self._spawn,
            event=self._recorder.event,
            give_up=lambda: self._spawn(
                self._farewell(LLM_DOWN, "failure_line", self._options.failure_line)
            ),
        )
        self._recorder.attach(session, self._output)
        self._output.start()
        await session.start(agent, record=False)  # the runner records; no cloud upload
        self._recorder.event("call_started")
        if self._options.typed_turns is not None:
            self._spawn(self._take_typed_turns(session, self._options.typed_turns))
        await self._supervise()

    async def _take_typed_turns(self, session: AgentSession, turns: AsyncIterator[str]) -> None:
        async for text in turns:
            if self._ending.outcome is not None:
                return
            with contextlib.suppress(RuntimeError):
                session.interrupt()
            session.generate_reply(user_input=text)

    async def _supervise(self) -> None:
        hangup = asyncio.create_task(self._telephony.wait_for_hangup(), name="wait-hangup")
        limit = asyncio.create_task(
            asyncio.sleep(self._spec.assistant.max_duration_secs), name="max-duration"
        )
        finished = asyncio.create_task(self._finished.wait(), name="finished")
        closed = asyncio.create_task(self._closed.wait(), name="session-closed")
        waiting: set[asyncio.Task[object]] = {hangup, limit, finished, closed}
        try:
            while True:
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                waiting -= done
                if hangup in done:
                    if self._ending.decide(USER_HANGUP):
                        self._recorder.event("caller_hung_up")
                    else:
                        self._recorder.event("caller_hung_up_during_goodbye")
                    return
                if finished in done:
                    return
                if closed in done:
                    failure = self._options.failure_line
                    self._spawn(self._farewell(self._closed_outcome(), "failure_line", failure))
                if limit in done:
                    self._recorder.event("max_duration_reached")
                    message = self._spec.max_duration_end_message
                    self._spawn(self._farewell(MAX_DURATION, "max_duration_end_message", message))
        finally:
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)

    async def _farewell(self, outcome: Outcome, sentence: str, text: str | None) -> None:
        """Carry out an end decided by the agent or the system: goodbye, then hang up."""
        if not self._ending.decide(outcome):
            return
        try:
            await asyncio.wait_for(self._say_goodbye(sentence, text), FAREWELL_BUDGET)
        except TimeoutError:
            self._recorder.warn(f"the goodbye ({sentence}) did not finish in time; hung up anyway")
        finally:
            self._finished.set()

    async def _say_goodbye(self, sentence: str, text: str | None) -> None:
        session = self._session
        if session is not None:
            with contextlib.suppress(Exception):
                session.input.set_audio_enabled(False)
                session.interrupt(force=True)
        if not text:
            return
        clip = await self._goodbye_clip(sentence, text)
        if clip is None:
            self._recorder.warn(f"the {sentence} could not be rendered; the call ended silently")
            return
        start = time.time()
        await self._output.play_final(clip.frames)
        await self._media.sink.wait_for_playout()
        self._recorder.add_agent_speech(text, start, time.time())

    async def _goodbye_clip(self, sentence: str, text: str) -> Clip | None:
        if self._clips is not None:
            clip = await self._clips.get(sentence, wait_at_most=CLIP_WAIT)
            if clip is not None:
                return clip
        if self._providers.tts is None:
            return None
        try:
            return await asyncio.wait_for(render(self._providers.tts, text), STEP_TIMEOUT / 2)
        except Exception:
            return None

    def _on_close(self, ev: CloseEvent) -> None:
        self._close_event = ev
        self._closed.set()

    def _closed_outcome(self) -> Outcome:
        ev = self._close_event
        if ev is not None and ev.error is not None:
            kind = type(ev.error).__name__.removesuffix("Error").lower() or "session"
            return Outcome("system", f"{kind}_error", status="error", error=kind + " failed")
        reason = ev.reason.value if ev is not None else "unknown"
        return Outcome(
            "system", "session_closed", status="error", error=f"session closed: {reason}"
        )

    # -- teardown --------------------------------------------------------------------------------

    async def _teardown(self) -> None:
        await self._step(self._telephony.hang_up(), "hang up")
        self._ended_at = time.time()
        self._recorder.event("hung_up")
        if self._session is not None:
            await self._step(self._session.aclose(), "session close")
        if self._synchronizer is not None:
            await self._step(self._synchronizer.aclose(), "transcript synchronizer close")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._output.aclose()
        if self._clips is not None:
            await self._clips.aclose()

    async def _step(self, work: Awaitable[object], what: str) -> None:
        try:
            await asyncio.wait_for(work, STEP_TIMEOUT)
        except Exception as err:
            self._recorder.warn(f"{what} failed: {type(err).__name__}")

    def _result(self) -> CallResult:
        outcome = self._ending.outcome or Outcome("system", "unknown", status="error")
        ended_at = self._ended_at or time.time()
        out_dir = self._options.output_dir
        recording_path = report_path = None
        if out_dir is not None:
            recording_path = self._recording.write(out_dir / "recording.wav")
        spoke = any(row.role == "user" for row in self._recorder.rows)
        report = self._recorder.report(
            ended_by=outcome.ended_by,
            end_reason=outcome.end_reason,
            status=outcome.status,
            result="human" if spoke or self._spec.call.direction == "inbound" else "unknown",
            ended_at=ended_at,
            recording_url=recording_path.resolve().as_uri() if recording_path else None,
            error=outcome.error,
        )
        if out_dir is not None:
            report_path = out_dir / "report.json"
            report_path.write_text(report.to_json())
        return CallResult(report, report_path, recording_path, self._output.stats)

    # -- helpers ---------------------------------------------------------------------------------

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _voice_key(self) -> str:
        voice = self._spec.assistant.voice
        label = self._providers.tts.label if self._providers.tts else "none"
        return f"{label}|{voice.model_dump_json() if voice else 'default'}"


def _sentence(text: str | None, template: str | None) -> StaticSentence | None:
    """A static sentence; shareable across calls when its template has no prompt variable."""
    if not text:
        return None
    return StaticSentence(text, shareable=template == text and "{{" not in text)

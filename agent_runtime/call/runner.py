"""The call runner: the only place that knows the order of a call.

Dial (outbound) or take the answered call, build the session from the config, greet, converse
until a guard or a tool ends the call (caller hang-up, max duration, session failure, end-call
tool, transfer), say the goodbye, hang up, close what the call used, and return the call
report. Worker, console and replay differ only in the ports they pass in.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from livekit import rtc
from livekit.agents import AgentSession, llm, utils
from livekit.agents.voice.speech_handle import SpeechHandle
from livekit.agents.voice.transcription.synchronizer import TranscriptSynchronizer

from agent_runtime.plugins import build_tools
from agent_runtime.plugins.context import Closeable, PluginContext
from agent_runtime.plugins.phone_menu import menu_tools

from ..answering.llm_classifier import llm_classifier
from ..config.attempt import AttemptStatus
from ..config.spec import CallSpec
from ..errors import CallEnded, DialFailed, TransferFailed
from ..log import logger
from ..media.hold import HoldMusic
from ..media.output import CallAudioOutput, FrameTap, OutputStats
from ..media.recording import CallRecording, TappedAudioInput
from ..media.sounds import CallSounds
from ..observability.call import ObservedCall
from ..providers import LLM_ATTEMPT_TIMEOUT, Providers
from ..report.capture import CallCapture
from ..report.journal import JOURNAL, REPORT, CallIdentity, Journal
from ..report.model import CallReport
from ..report.recorder import ReportRecorder
from ..tasks import TaskSet
from ..telephony.port import ConsultationLeg
from ..turns.backchannel import session_backchannels
from .agent import AssistantAgent
from .answering import AnsweringFlow, inferred_result
from .briefing import Briefing, briefing_instructions, conversation
from .clips import Clip, Clips, StaticSentence, render
from .ending import (
    END_CALL_TOOL,
    LLM_DOWN,
    SHUTDOWN,
    TRANSFERRED,
    VOICE_DOWN,
    CallEnding,
    Outcome,
    not_answered,
)
from .floor import Floor, follow_caller_words
from .guards.base import Ending, Goodbye, Guard
from .guards.hangup import CallerHangup
from .guards.idle import IdleCaller
from .guards.max_duration import MaxDuration
from .guards.session_failure import SessionFailure
from .keys import KeyCollector
from .options import RunOptions
from .ports import CallPorts
from .recovery import TurnRecovery
from .session import build_session
from .warm_transfer import WarmResult, WarmTransfer, come_back_instructions
from .watchdog import GIVE_UP_AFTER, SilenceWatchdog

_T = TypeVar("_T")

FAREWELL_BUDGET = 20.0
"""Most time a goodbye may take; the call is hung up when it runs out, whatever hangs."""
CLIP_WAIT = 3.0
"""How long a goodbye waits for its pre-rendered audio before rendering it live."""
FIRST_CLIP_WAIT = 1.5
"""How long the static greeting waits for the first frame of its rendering before using live
TTS (the rendering plays as it comes: a cold cache costs the TTS's first byte, no more)."""
STEP_TIMEOUT = 5.0
"""Bound on each teardown step (hang up, session close): a worker job is cancelled 15 s after
its room is gone, and the report must be written before that."""


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
        ports: CallPorts,
        options: RunOptions | None = None,
    ) -> None:
        self._spec = spec
        self._providers = providers
        self._ports = ports
        self._options = options or RunOptions()
        self._ending = CallEnding()
        self._finished = asyncio.Event()
        self._ending_started = asyncio.Event()
        """Set when the teardown starts: what the call still waits for is cancelled."""
        attempt_id = self._options.attempt_id or f"att_{uuid.uuid4().hex[:16]}"
        self._recorder = ReportRecorder(
            spec,
            attempt_id=attempt_id,
            started_at=self._options.started_at,
            on_row=self._options.on_row,
        )
        self._tasks = TaskSet(on_failure=self._task_failed)
        self._owned: list[Closeable] = []
        media = ports.media
        self._output = CallAudioOutput(media.sink, sample_rate=media.sample_rate)
        self._recording = CallRecording(media.sample_rate, origin=self._recorder.started_at)
        self._session: AgentSession | None = None
        self._capture: CallCapture | None = None
        self._synchronizer: TranscriptSynchronizer | None = None
        self._failure: SessionFailure | None = None
        self._keys: KeyCollector | None = None
        self._answering: AnsweringFlow | None = None
        self._transferring = False
        self._floor: Floor | None = None
        self._hold = (
            HoldMusic(media.sample_rate) if spec.assistant.transfer_mode == "warm" else None
        )
        self._colleague: ConsultationLeg | None = None
        """The colleague's leg, once a warm transfer connected it."""
        voice_key = providers.voice_key or spec.voice.key
        self._clips = Clips(
            providers.tts,
            f"{providers.tts.label if providers.tts else 'none'}|{voice_key}",
            self._static_sentences(),
            store=self._options.clip_store,
        )
        self._ended_at: float | None = None
        self._observed = ObservedCall(
            call_id=spec.call.id, attempt_id=attempt_id, direction=spec.call.direction
        )

    @property
    def output(self) -> CallAudioOutput:
        """The call's output stream (issue-specific layers are added to it before ``run``)."""
        return self._output

    # -- CallControl, for tools ----------------------------------------------------------------

    def end_after(self, speech: SpeechHandle, *, farewell: str | None) -> None:
        """End the call once ``speech`` is done (the end-call tool)."""
        if self._session is not None:
            self._session.input.set_audio_enabled(False)
        goodbye = Goodbye("end_of_call_sentence", farewell)

        def ended(_: SpeechHandle) -> None:
            self._end(Ending(END_CALL_TOOL, goodbye))

        speech.add_done_callback(ended)

    def event(self, type: str, **detail: str | int | float | bool | None) -> None:
        """Record a call event in the report."""
        self._recorder.event(type, **detail)

    def own(self, resource: Closeable) -> None:
        """Close ``resource`` when the call ends, before the report is written."""
        self._owned.append(resource)

    async def until_ended(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Await ``work``; if the call ends first, cancel it and raise ``CallEnded``."""
        task = asyncio.ensure_future(work)
        ended = asyncio.ensure_future(self._ending_started.wait())
        try:
            await asyncio.wait({task, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            if not task.done():
                task.cancel()
            await asyncio.gather(task, ended, return_exceptions=True)
        if task.cancelled() and self._ending_started.is_set():
            raise CallEnded("the call ended before the action finished")
        return task.result()

    async def transfer(self, to: str) -> None:
        """Say the transfer line, then hand the call over to ``to`` and end the agent's part.

        Raises ``TransferFailed`` when the transfer did not go through: the call goes on.
        """
        session = self._session
        if session is not None:
            session.input.set_audio_enabled(False)
        self._recorder.event("transfer_started", mode="cold")
        self._transferring = True
        try:
            # the tool runs inside the agent's current turn: not cut, it goes on if this fails
            await self._play_now("transfer_line", self._options.transfer_line, cut=False)
            started = time.time()
            await self._ports.telephony.transfer(to)
        except TransferFailed as failure:
            self._recorder.event(
                "transfer", outcome="failed", sip_status=failure.sip_status, reason=failure.reason
            )
            if session is not None and self._ending.outcome is None:
                session.input.set_audio_enabled(True)
            raise
        finally:
            self._transferring = False
        self._recorder.event(
            "transfer", outcome="transferred", seconds=round(time.time() - started, 3)
        )
        self._end(Ending(TRANSFERRED))

    async def warm_transfer(self, to: str) -> None:
        """Say the transfer line, then put the caller on hold and consult ``to`` meanwhile.

        Returns once the consultation has started (``warm_transfer.py`` tells the flow); the
        runner connects the caller or comes back to them when it ends. ``TransferFailed``
        when a transfer is already under way.
        """
        if self._transferring:
            raise TransferFailed("a transfer is under way", reason="a transfer is under way")
        self._recorder.event("transfer_started", mode="warm")
        self._transferring = True
        # the tool runs inside the agent's current turn: the line is said to its end
        await self._play_now("transfer_line", self._options.transfer_line, cut=False)
        self._tasks.spawn(self._consult(to), name="warm-transfer")

    async def _consult(self, to: str) -> None:
        assert self._hold is not None and self._floor is not None
        flow = WarmTransfer(
            self._ports.telephony,
            hold=self._hold,
            floor=self._floor,
            brief=self._briefing,
            event=self._recorder.event,
            offset=self._recorder.offset,
            ring_timeout=self._options.transfer_ring_timeout,
        )
        try:
            result = await self.until_ended(flow.run(to))
        except CallEnded:
            return
        if result.leg is not None:
            self._connected(result.leg)
        else:
            self._come_back(result)

    def _briefing(self, leg: ConsultationLeg) -> Briefing:
        """The briefing of the colleague on ``leg``, from the conversation so far."""
        spec, session = self._spec, self._session
        history = conversation(session.history.items) if session is not None else []
        summary = spec.assistant.warm_transfer_summary_instructions
        consultation_stt = self._options.consultation_stt
        return Briefing(
            leg,
            self._providers,
            instructions=briefing_instructions(
                assistant_name=spec.assistant.name,
                summary=spec.render(summary).text if summary else None,
                history=history,
            ),
            turn=self._options.turn,
            stt_override=consultation_stt() if consultation_stt is not None else None,
            said=lambda role, text: self._recorder.event("consultation", role=role, text=text),
            tap=self._capture.colleague() if self._capture is not None else None,
        )

    def _connected(self, leg: ConsultationLeg) -> None:
        """The caller and the colleague hear each other: the agent's part is over."""
        self._colleague = leg
        if not self._ending.decide(TRANSFERRED):
            return  # the call was ending already; the teardown hangs the leg up
        self._silence_session()
        self._tasks.spawn(self._until_colleague_leaves(leg), name="warm-transfer-connected")

    async def _until_colleague_leaves(self, leg: ConsultationLeg) -> None:
        """Record both people until the colleague hangs up (or the call ends); then end.

        The agent no longer speaks or listens: its output stops, and the session is detached
        from the caller's audio (their talk with the colleague is not the agent's transcript).
        The recording keeps the caller on the left and the colleague, what the caller now
        hears, on the right.
        """
        await self._output.aclose()
        caller = self._session.input.audio if self._session is not None else None
        if self._session is not None:
            self._session.input.audio = None
        heard: FrameTap = self._recording.heard
        if self._capture is not None:
            heard = self._capture.colleague().also(heard)
        recordings = [self._tasks.spawn(_drain(leg.media.caller_audio, heard), name="rec")]
        if caller is not None:  # the tapped input records each frame it passes on
            recordings.append(self._tasks.spawn(_drain(caller, None), name="rec-caller"))
        try:
            await leg.wait_for_hangup()
        finally:
            for recording in recordings:
                recording.cancel()
        if not self._ending_started.is_set():  # they left first (else the call is ending)
            self._recorder.event("colleague_hung_up")
        self._finished.set()

    def _come_back(self, result: WarmResult) -> None:
        """Nobody took the call: the agent tells the caller, and the conversation goes on."""
        self._transferring = False
        session = self._session
        if session is not None and self._active():
            session.generate_reply(instructions=come_back_instructions(result))

    # -- the call ------------------------------------------------------------------------------

    def stop(self) -> None:
        """End the call now, as a shutdown asks: the failure line, then hang up."""
        self._recorder.event("shutdown_requested")
        self._end(Ending(SHUTDOWN, Goodbye("failure_line", self._options.failure_line)))

    async def run(self) -> CallResult:
        """Run the call to its end and return the report; never raises for a call failure."""
        loop = asyncio.get_running_loop()
        if self._options.stop_on_sigterm:
            loop.add_signal_handler(signal.SIGTERM, self.stop)
        capture = self._capture = self._start_capture()
        try:
            with self._observed.running():  # log fields, trace span, active-calls gauge
                return await self._run()
        finally:
            if capture is not None and self._options.output_dir is not None:
                capture.stop()
                capture.write(self._options.output_dir)
            if self._options.stop_on_sigterm:
                loop.remove_signal_handler(signal.SIGTERM)

    def _start_capture(self) -> CallCapture | None:
        """The call's capture, started, when asked for (and there is a folder to write it)."""
        if not self._options.capture or self._options.output_dir is None:
            return None
        sentences = self._static_sentences().values()
        capture = CallCapture(
            self._spec,
            fixed_sentences=[s.text for s in sentences if s is not None],
            settings=[self._ports.integrations],
        )
        capture.start()
        return capture

    async def _run(self) -> CallResult:
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
        spec, providers, options = self._spec, self._providers, self._options
        if options.output_dir is not None:
            start = self._recorder.report(
                ended_by=None, end_reason=None, status="queued", result=None, ended_at=time.time()
            )
            identity = CallIdentity(
                id=spec.call.id,
                direction=spec.call.direction,
                metadata=dict(spec.call.metadata or {}),
                webhook_url=spec.assistant.webhook_url,
            )
            self._recorder.journal = Journal(options.output_dir / JOURNAL, start, identity)
        self._status("queued")
        self._clips.start()  # while the phone rings, the greeting renders
        try:
            answered_at = await self._ports.telephony.wait_for_answer(
                ringing=lambda: self._status("ringing")
            )
        except DialFailed as failure:
            self._recorder.event(
                "dial_failed", dial_error=failure.dial_error, sip_status=failure.sip_status
            )
            self._ending.decide(not_answered(failure))
            return
        self._recorder.answered_at = answered_at
        if self._recorder.journal is not None:
            self._recorder.journal.answered(answered_at)
        self._status("ongoing")
        self._output.add_tap(self._recording.heard)
        session = build_session(providers, options.turn)
        self._session = session
        if self._capture is not None:
            self._capture.attach(session, self._recorder.offset)
        sounds = CallSounds.for_call(spec, sample_rate=self._ports.media.sample_rate)
        for layer in sounds.layers:
            self._output.add_layer(layer)
        sounds.attach(session)
        plugin_context = PluginContext(
            spec=spec,
            control=self,
            telephony=self._ports.telephony,
            integrations=self._ports.integrations,
        )
        answering = self._answering = self._answering_flow()
        clips = self._clips
        floor = self._floor = answering.floor if answering else Floor(deciding=False)
        follow_caller_words(floor, session)
        if self._hold is not None:
            self._output.add_layer(self._hold)
        agent = AssistantAgent(
            spec,
            build_tools(plugin_context),
            lambda: clips.stream("first_sentence", first_frame_within=FIRST_CLIP_WAIT),
            floor=floor,
            unanswered=self._recorder.unanswered,
            backchannels=session_backchannels(session, event=self._recorder.event),
        )
        listeners = [answering.hear] if answering else []
        if self._capture is not None:
            listeners.append(self._capture.hear)
        session.input.audio = TappedAudioInput(
            self._ports.media.caller_audio, self._recording, listeners
        )
        self._synchronizer = TranscriptSynchronizer(
            next_in_chain_audio=self._output, next_in_chain_text=options.agent_words
        )
        session.output.audio = self._synchronizer.audio_output
        session.output.transcription = self._synchronizer.text_output
        self._failure = SessionFailure(session, failure_line=options.failure_line)
        recovery = TurnRecovery(
            session,
            line=options.recovery_line,
            audio=lambda: clips.stream("recovery_line", first_frame_within=CLIP_WAIT),
            active=self._active,
            spawn=lambda work: self._tasks.spawn(work, name="turn-recovery"),
            event=self._recorder.event,
            give_up=lambda: self._farewell_soon(self._down(), options.failure_line),
        )

        def attending() -> bool:  # the agent is expected to answer the caller now
            steering = answering is not None and answering.steering
            return self._active() and not self._transferring and not steering

        watchdog = SilenceWatchdog(
            session,
            self._output,
            holding=(lambda: clips.get("holding_line", wait_at_most=CLIP_WAIT))
            if options.holding_line
            else None,
            turn_failed=recovery.turn_failed,
            event=self._recorder.event,
            active=attending,
            thinking_sound=lambda: sounds.thinking is not None and sounds.thinking.playing,
            give_up_after=GIVE_UP_AFTER
            + (LLM_ATTEMPT_TIMEOUT if isinstance(providers.llm, llm.FallbackAdapter) else 0.0),
        )
        self._tasks.spawn(watchdog.watch(), name="silence-watchdog")
        self._recorder.attach(session, self._output)
        self._output.start()
        await session.start(agent, record=False)  # the runner records; no cloud upload
        self._recorder.event("call_started")
        if answering is not None:
            answering.start(session, agent, menu_tools(plugin_context))
        self._keys = KeyCollector(
            session,
            active=lambda: self._active() and not self._transferring,  # on hold: not a turn
            event=self._recorder.event,
        )
        self._ports.telephony.on_keys(self._keys.press)
        self._ports.telephony.on_keys_sent(self._keys.sent)
        if options.typed_turns is not None:
            self._tasks.spawn(self._take_typed_turns(session, options.typed_turns), name="typed")
        await self._supervise(
            [
                CallerHangup(self._ports.telephony),
                MaxDuration(
                    spec.assistant.max_duration_secs,
                    answered_at=answered_at,
                    message=spec.max_duration_end_message,
                ),
                self._failure,
                IdleCaller(
                    session,
                    hangup_after=options.turn.idle_hangup_after,
                    active=lambda: attending() and (answering is None or answering.floor.replies),
                    event=self._recorder.event,
                ),
            ]
        )

    def _answering_flow(self) -> AnsweringFlow | None:
        """Who answered is decided on outbound calls only (an inbound caller called us)."""
        if self._spec.call.direction != "outbound":
            return None
        model = self._providers.aside_llm
        return AnsweringFlow(
            self._spec,
            classify=llm_classifier(model) if model is not None else None,
            end=self._end,
            event=self._recorder.event,
            tasks=self._tasks,
        )

    def _down(self) -> Outcome:
        """Why turns keep failing: the voice, when it has failed this call, else the LLM."""
        voice_failed = any(
            e.type == "provider_error" and str(e.detail.get("source") or "").endswith("tts")
            for e in self._recorder.events
        )
        return VOICE_DOWN if voice_failed else LLM_DOWN

    def _active(self) -> bool:
        failed = self._failure is not None and self._failure.closed
        return self._ending.outcome is None and not failed

    async def _take_typed_turns(self, session: AgentSession, turns: AsyncIterator[str]) -> None:
        async for text in turns:
            if self._ending.outcome is not None:
                return
            with contextlib.suppress(RuntimeError):
                session.interrupt()
            session.generate_reply(user_input=text)

    async def _supervise(self, guards: list[Guard]) -> None:
        """Carry out what the guards call for, until the call has ended."""
        watching = {self._tasks.spawn(g.watch(), name=f"guard-{g.name}"): g for g in guards}
        finished = self._tasks.spawn(self._finished.wait(), name="call-finished")
        waiting: set[asyncio.Task[object]] = {*watching, finished}
        try:
            while finished in waiting:
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                for task in done - {finished}:
                    if task.cancelled() or task.exception() is not None:
                        continue  # the task set logged the failure and warned in the report
                    ending = task.result()
                    assert isinstance(ending, Ending)
                    if self._end(ending):
                        return
        finally:
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)

    def _end(self, ending: Ending) -> bool:
        """Carry out ``ending``; True when the line is gone and the call is over at once."""
        if ending.at_once:
            decided = self._ending.decide(ending.outcome)
            if ending.event:
                late = not decided and self._colleague is None  # else: the bridged call's end
                self._recorder.event(f"{ending.event}_during_goodbye" if late else ending.event)
            return True
        if ending.event:
            self._recorder.event(ending.event)
        self._tasks.spawn(self._farewell(ending.outcome, ending.goodbye), name="farewell")
        return False

    def _farewell_soon(self, outcome: Outcome, failure_line: str | None) -> None:
        self._end(Ending(outcome, Goodbye("failure_line", failure_line)))

    async def _farewell(self, outcome: Outcome, goodbye: Goodbye | None) -> None:
        """Carry out an end decided by the agent or the system: goodbye, then hang up."""
        if not self._ending.decide(outcome):
            return
        if self._hold is not None:
            self._hold.stop()  # a caller on hold hears the goodbye alone
        what = goodbye.sentence if goodbye else "goodbye"
        try:
            await asyncio.wait_for(self._say_goodbye(goodbye), FAREWELL_BUDGET)
        except TimeoutError:
            self._recorder.warn(f"the goodbye ({what}) did not finish in time; hung up anyway")
        finally:
            self._finished.set()

    async def _say_goodbye(self, goodbye: Goodbye | None) -> None:
        if goodbye is not None:
            await self._play_now(goodbye.sentence, goodbye.text, last=True)
        else:
            self._silence_session()

    def _silence_session(self) -> None:
        session = self._session
        if session is not None:
            with contextlib.suppress(Exception):
                session.input.set_audio_enabled(False)
                session.interrupt(force=True)

    async def _play_now(
        self, sentence: str, text: str | None, *, last: bool = False, cut: bool = True
    ) -> None:
        """Cut the session's voice and say ``text`` to its end, uninterruptible.

        ``last``: nothing the session says afterwards is played (a goodbye). ``cut``: the
        session's turn is interrupted and the caller no longer heard (else the caller's audio
        is only paused by the caller of this method).
        """
        if cut:
            self._silence_session()
        if not text:
            return
        clip = await self._goodbye_clip(sentence, text)
        if clip is None:
            self._recorder.warn(f"the {sentence} could not be rendered; it was not said")
            return
        start = time.time()
        await self._output.play_final(clip.frames, keep_locked=last)
        await self._ports.media.sink.wait_for_playout()
        self._recorder.add_agent_speech(text, start, time.time())

    async def _goodbye_clip(self, sentence: str, text: str) -> Clip | None:
        clip = await self._clips.get(sentence, wait_at_most=CLIP_WAIT)
        if clip is not None:
            return clip
        if self._providers.tts is None:
            return None
        try:
            return await asyncio.wait_for(render(self._providers.tts, text), STEP_TIMEOUT / 2)
        except Exception:
            return None

    # -- teardown --------------------------------------------------------------------------------

    async def _teardown(self) -> None:
        self._ending_started.set()
        if self._answering is not None:
            self._answering.close()
        if self._keys is not None:
            self._keys.close()
        await self._step(self._ports.telephony.hang_up(), "hang up")
        if self._colleague is not None:
            await self._step(self._colleague.hang_up(), "colleague hang up")
        self._ended_at = time.time()
        self._recorder.event("hung_up")
        if self._session is not None:
            await self._step(self._session.aclose(), "session close")
        if self._synchronizer is not None:
            await self._step(self._synchronizer.aclose(), "transcript synchronizer close")
        await self._tasks.aclose()
        for resource in reversed(self._owned):
            await self._step(resource.aclose(), f"closing {type(resource).__name__}")
        await self._output.aclose()
        await self._clips.aclose()

    async def _step(self, work: Awaitable[object], what: str) -> None:
        try:
            await asyncio.wait_for(work, STEP_TIMEOUT)
        except Exception as err:
            self._recorder.warn(f"{what} failed: {type(err).__name__}")

    def _task_failed(self, name: str, error: BaseException) -> None:
        self._recorder.warn(f"{name} failed: {type(error).__name__}")

    def _status(self, status: AttemptStatus) -> None:
        self._recorder.event("status", status=status)
        if self._options.on_status is not None:
            self._options.on_status(status)

    def _result(self) -> CallResult:
        outcome = self._ending.outcome or Outcome("system", "unknown", status="error")
        self._status(outcome.status)
        ended_at = self._ended_at or time.time()
        out_dir = self._options.output_dir
        recording_path = report_path = None
        if out_dir is not None:
            recording_path = self._recording.write(out_dir / "recording.wav")
        spoke = any(row.role == "user" for row in self._recorder.rows)
        answering = self._answering
        report = self._recorder.report(
            ended_by=outcome.ended_by,
            end_reason=outcome.end_reason,
            status=outcome.status,
            result=None  # nobody answered
            if self._recorder.answered_at is None
            else answering.result(callee_spoke=spoke)
            if answering is not None
            else inferred_result(caller_spoke=spoke),
            ended_at=ended_at,
            recording_url=recording_path.resolve().as_uri() if recording_path else None,
            error=outcome.error,
            dial_error=outcome.dial_error,
        )
        self._observed.ended(report, self._output.stats)
        if out_dir is not None:
            report_path = out_dir / REPORT
            report_path.write_text(report.to_json())
            if self._recorder.journal is not None:
                self._recorder.journal.close()
        return CallResult(report, report_path, recording_path, self._output.stats)

    # -- helpers ---------------------------------------------------------------------------------

    def _static_sentences(self) -> dict[str, StaticSentence | None]:
        spec, assistant, options = self._spec, self._spec.assistant, self._options
        greeting = spec.first_sentence if assistant.first_sentence_mode == "static" else None
        return {
            "first_sentence": _sentence(greeting, assistant.first_sentence),
            "end_of_call_sentence": _sentence(
                spec.end_of_call_sentence, assistant.end_of_call_sentence
            ),
            "max_duration_end_message": _sentence(
                spec.max_duration_end_message, assistant.max_duration_end_message
            ),
            "recovery_line": _sentence(options.recovery_line, options.recovery_line),
            "failure_line": _sentence(options.failure_line, options.failure_line),
            "holding_line": _sentence(options.holding_line, options.holding_line),
            "transfer_line": _sentence(options.transfer_line, options.transfer_line)
            if assistant.transfer_mode is not None
            else None,
            "voicemail_message": _sentence(spec.voicemail_message, assistant.voicemail_message)
            if spec.call.direction == "outbound"
            else None,
        }


async def _drain(audio: AsyncIterator[rtc.AudioFrame], tap: FrameTap | None) -> None:
    """Read ``audio`` to its end, showing each frame to ``tap``."""
    async for frame in audio:
        if tap is not None:
            tap(frame)


def _sentence(text: str | None, template: str | None) -> StaticSentence | None:
    """A static sentence; shareable across calls when its template has no prompt variable."""
    if not text:
        return None
    return StaticSentence(text, shareable=template == text and "{{" not in text)

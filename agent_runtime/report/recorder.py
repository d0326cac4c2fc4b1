"""Builds the call report from session events as they happen.

The report is never reconstructed at the end: rows, speech timing, latency and events are
appended when the session emits them, so a call that crashes still has a report to deliver.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from livekit.agents import AgentSession, llm
from livekit.agents.voice import io
from livekit.agents.voice.events import (
    AgentFalseInterruptionEvent,
    CloseEvent,
    ConversationItemAddedEvent,
    ErrorEvent,
    FunctionToolsExecutedEvent,
    UserStateChangedEvent,
)

from ..config.attempt import AttemptResult, DialError, TranscriptRow
from ..config.spec import CallSpec
from ..media.output import CallAudioOutput
from .journal import Journal
from .model import (
    CallEvent,
    CallReport,
    RuntimeSection,
    SpeechSegment,
    TurnLatency,
)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class ReportRecorder:
    """Collects one call's report while the call runs."""

    def __init__(
        self,
        spec: CallSpec,
        *,
        attempt_id: str,
        started_at: float | None = None,
        on_row: Callable[[TranscriptRow, float], None] | None = None,
    ):
        self._spec = spec
        self._on_row = on_row
        self._attempt_id = attempt_id
        self.started_at = time.time() if started_at is None else started_at
        self.answered_at: float | None = None
        self.rows: list[TranscriptRow] = []
        self.rows_at: list[float] = []
        """When each row began, in seconds from the answer (``runtime.transcript_at``)."""
        self.speech: list[SpeechSegment] = []
        self.latency: list[TurnLatency] = []
        self.events: list[CallEvent] = []
        self.warnings: list[str] = [str(w) for w in spec.warnings]
        self._user_since: float | None = None
        self._agent_since: float | None = None
        self._user_began: float | None = None
        """When the caller's speech not yet in a row began (wall time)."""
        self._agent_began: float | None = None
        """When the agent's speech not yet in a row began (wall time)."""
        self._last_user_metrics: dict[str, Any] | None = None
        self._output: CallAudioOutput | None = None
        self.journal: Journal | None = None
        """Where rows and events are also written as they come (``report.journal``)."""

    def offset(self, wall_time: float | None = None) -> float:
        """Seconds since the start of the call."""
        return round((time.time() if wall_time is None else wall_time) - self.started_at, 3)

    # -- wiring ------------------------------------------------------------------------------

    def attach(self, session: AgentSession, output: CallAudioOutput) -> None:
        """Follow ``session``'s events and the voice playback of ``output``."""
        session.on("conversation_item_added", self._on_item)
        session.on("function_tools_executed", self._on_tools)
        session.on("user_state_changed", self._on_user_state)
        session.on("agent_false_interruption", self._on_false_interruption)
        session.on("error", self._on_error)
        session.on("close", self._on_close)
        output.on("playback_started", self._on_playback_started)
        output.on("playback_finished", self._on_playback_finished)
        self._output = output

    def event(self, type: str, **detail: str | int | float | bool | None) -> None:
        """Record a call event."""
        event = CallEvent(type=type, at=self.offset(), detail=detail)
        self.events.append(event)
        if self.journal is not None:
            self.journal.event(event)

    def warn(self, message: str) -> None:
        """Record a warning for the report."""
        self.warnings.append(message)

    def unanswered(self, text: str) -> None:
        """Record a turn of the callee that the agent let pass (a voicemail greeting, a menu)."""
        if text.strip():
            self._add_row(TranscriptRow(role="user", content=text), began=self._take_began("user"))

    def add_agent_speech(self, text: str, start: float, end: float) -> None:
        """Record speech the runner played itself (a farewell), as a row and a segment."""
        self._add_row(TranscriptRow(role="assistant", content=text), began=start)
        self.speech.append(
            SpeechSegment(role="assistant", start=self.offset(start), end=self.offset(end))
        )

    def _add_row(self, row: TranscriptRow, *, began: float | None = None) -> None:
        """Add ``row``, which began at wall time ``began`` (default: now).

        An agent row is added once its speech is over; caller rows that began after it (the
        caller cut in, typed or spoken) are kept after it, in the order things were said.
        """
        answered = self.answered_at if self.answered_at is not None else self.started_at
        at = round(max(0.0, (time.time() if began is None else began) - answered), 3)
        position = len(self.rows)
        if row.role == "assistant":  # added once heard: before the caller's words that cut it
            while (
                position
                and self.rows[position - 1].role == "user"
                and self.rows_at[position - 1] > at
            ):
                position -= 1
        self.rows.insert(position, row)
        self.rows_at.insert(position, at)
        if self.journal is not None:
            self.journal.row(row, at)
        if self._on_row is not None:
            self._on_row(row, at)

    def _take_began(self, role: str) -> float | None:
        """When the speech of the row being added began; the next row starts afresh."""
        if role == "user":
            began, self._user_began = self._user_began, None
        else:
            began, self._agent_began = self._agent_began, None
        return began

    # -- session events ----------------------------------------------------------------------

    def _on_item(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if not isinstance(item, llm.ChatMessage) or item.role not in ("user", "assistant"):
            return
        content = item.text_content or ""
        self._add_row(
            TranscriptRow(role=item.role, content=content), began=self._take_began(item.role)
        )
        metrics: dict[str, Any] = dict(item.metrics or {})
        if item.role == "user":
            self._last_user_metrics = metrics
        elif self._last_user_metrics is not None:
            self._add_latency(self._last_user_metrics, metrics)
            self._last_user_metrics = None

    def _add_latency(self, user: dict[str, Any], agent: dict[str, Any]) -> None:
        stopped = user.get("stopped_speaking_at")
        if stopped is None:
            return
        started = agent.get("started_speaking_at")
        self.latency.append(
            TurnLatency(
                user_stopped_speaking=self.offset(stopped),
                agent_started_speaking=None if started is None else self.offset(started),
                end_of_turn_delay=_round(user.get("end_of_turn_delay")),
                transcription_delay=_round(user.get("transcription_delay")),
                llm_ttft=_round(agent.get("llm_node_ttft")),
                tts_ttfb=_round(agent.get("tts_node_ttfb")),
                e2e_latency=None if started is None else round(started - stopped, 3),
            )
        )

    def _on_tools(self, ev: FunctionToolsExecutedEvent) -> None:
        for call, output in ev.zipped():
            self._add_row(
                TranscriptRow(
                    role="tool",
                    tool_name=call.name,
                    tool_arguments=call.arguments,
                    tool_output=output.output if output is not None else None,
                    tool_is_error=output.is_error if output is not None else None,
                )
            )

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            self._user_since = ev.created_at
            if self._user_began is None:
                self._user_began = ev.created_at
        elif self._user_since is not None:
            start, self._user_since = self._user_since, None
            self.speech.append(
                SpeechSegment(role="user", start=self.offset(start), end=self.offset(ev.created_at))
            )

    def _on_playback_started(self, ev: io.PlaybackStartedEvent) -> None:
        self._agent_since = self._agent_began = ev.created_at

    def _on_playback_finished(self, ev: io.PlaybackFinishedEvent) -> None:
        if self._agent_since is None:
            return
        start, self._agent_since = self._agent_since, None
        heard_until = self._output.last_voice_at if self._output else None
        end = max(start, heard_until) if heard_until is not None else start
        self.speech.append(
            SpeechSegment(
                role="assistant",
                start=self.offset(start),
                end=self.offset(end),  # the last voice frame: pauses are inside the segment
                interrupted=ev.interrupted,
            )
        )

    def _on_false_interruption(self, ev: AgentFalseInterruptionEvent) -> None:
        self.event("false_interruption", resumed=ev.resumed)

    def _on_error(self, ev: ErrorEvent) -> None:
        error = ev.error
        recoverable = bool(getattr(error, "recoverable", False))
        source = type(ev.source).__module__.split(".")[-2:] if ev.source is not None else []
        self.event(
            "provider_error",
            source=".".join(source) or None,
            error=type(getattr(error, "error", error)).__name__,
            recoverable=recoverable,
        )

    def _on_close(self, ev: CloseEvent) -> None:
        self.event("session_closed", reason=ev.reason.value)

    # -- the report --------------------------------------------------------------------------

    def report(
        self,
        *,
        ended_by: str | None,
        end_reason: str | None,
        status: str,
        result: AttemptResult | None,
        ended_at: float,
        recording_url: str | None = None,
        error: str | None = None,
        structured_output: dict[str, Any] | None = None,
        dial_error: DialError | None = None,
    ) -> CallReport:
        """The report as it stands, with the call's end."""
        call = self._spec.call

        def moment(wall: float | None) -> datetime | None:
            return None if wall is None else datetime.fromtimestamp(wall, tz=UTC)

        open_user = []
        if self._user_since is not None:
            open_user = [
                SpeechSegment(
                    role="user", start=self.offset(self._user_since), end=self.offset(ended_at)
                )
            ]
        return CallReport.model_validate(
            {
                "id": self._attempt_id,
                "phone_number": call.user_phone_number,
                "started_at": moment(self.started_at),
                "answered_at": moment(self.answered_at),
                "ended_at": moment(ended_at),
                "status": status,
                "result": result,
                "dial_error": dial_error,
                "ended_by": ended_by,
                "end_reason": end_reason,
                "transcript": list(self.rows),
                "structured_output": structured_output,
                "recording_url": recording_url,
                "runtime": RuntimeSection(
                    call_id=call.id,
                    assistant_id=call.assistant.id,
                    direction=call.direction,
                    duration=self.offset(ended_at),
                    speech=sorted([*self.speech, *open_user], key=lambda s: s.start),
                    transcript_at=list(self.rows_at),
                    latency=list(self.latency),
                    warnings=list(self.warnings),
                    events=list(self.events),
                    error=error,
                ),
            }
        )

"""The call report model, shaped like one ``call_attempts[]`` item of the API reference.

``CallAttempt`` is the API object, field for field (it also loads the attempts found in call
objects). ``CallReport`` adds ``runtime``: what the runtime measured and decided (speech timing,
per-turn latency, warnings, call events), kept apart so ``to_api_dict`` can leave it out.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from ..config.base import ConfigModel
from ..config.fields import PhoneNumber, Timestamp

AttemptStatus = Literal["queued", "ringing", "ongoing", "completed", "error"]
AttemptResult = Literal["IVR", "voicemail", "human", "unknown", "ios-screening-filter"]
EndedBy = Literal["agent", "user", "system"]
DialError = Literal[
    "number_non_attributed",
    "too_many_calls",
    "busy",
    "temporarily_unavailable",
    "no_answer",
    "no_international_permission",
    "precondition_failed",
    "non_classified_error",
]


def iso(moment: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 UTC with a ``Z``, millisecond precision."""
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TranscriptRow(ConfigModel):
    """A line of the transcript: what the user or the assistant said, or a tool call."""

    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_name: str | None = None
    tool_arguments: dict[str, Any] | str | None = None
    tool_output: str | None = None
    tool_is_error: bool | None = None

    @field_validator("tool_arguments", mode="before")
    @classmethod
    def _decode_arguments(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                decoded = json.loads(value)
            except json.JSONDecodeError:
                return value
            return decoded if isinstance(decoded, dict) else value
        return value


class CallAttempt(ConfigModel):
    """One call attempt as the API documents it."""

    id: str
    phone_number: PhoneNumber = None
    started_at: Timestamp = None
    answered_at: Timestamp = None
    ended_at: Timestamp = None
    status: AttemptStatus = "queued"
    result: AttemptResult | None = None
    dial_error: DialError | None = None
    ended_by: EndedBy | None = None
    end_reason: str | None = None
    transcript: list[TranscriptRow] | None = None
    structured_output: dict[str, Any] | None = None
    recording_url: str | None = None

    @field_serializer("started_at", "answered_at", "ended_at")
    def _iso(self, moment: datetime | None) -> str | None:
        return iso(moment)


class SpeechSegment(BaseModel):
    """When someone spoke, in seconds from the start of the call."""

    model_config = ConfigDict(frozen=True)

    role: Literal["user", "assistant"]
    start: float
    end: float
    interrupted: bool = False


class TurnLatency(BaseModel):
    """How fast the agent answered one caller turn, in seconds."""

    model_config = ConfigDict(frozen=True)

    user_stopped_speaking: float = Field(description="Offset from call start.")
    agent_started_speaking: float | None = Field(default=None, description="Offset; None if not.")
    end_of_turn_delay: float | None = None
    transcription_delay: float | None = None
    llm_ttft: float | None = None
    tts_ttfb: float | None = None
    e2e_latency: float | None = Field(
        default=None, description="From the end of the caller's speech to the first agent audio."
    )


class CallEvent(BaseModel):
    """Something the runtime did or saw during the call (DTMF sent, transfer attempted...)."""

    model_config = ConfigDict(frozen=True)

    type: str
    at: float = Field(description="Seconds from the start of the call.")
    detail: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class RuntimeSection(BaseModel):
    """The runtime's additions to the API's call attempt."""

    model_config = ConfigDict(frozen=True)

    call_id: str | None = None
    assistant_id: str | None = None
    direction: Literal["inbound", "outbound"] | None = None
    duration: float | None = Field(default=None, description="Seconds from start to end.")
    speech: list[SpeechSegment] = Field(default_factory=list)
    latency: list[TurnLatency] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    events: list[CallEvent] = Field(default_factory=list)
    error: str | None = None


class CallReport(CallAttempt):
    """A call attempt as the runtime reports it: the API object plus ``runtime``."""

    runtime: RuntimeSection = Field(default_factory=RuntimeSection)

    def to_api_dict(self) -> dict[str, Any]:
        """The JSON object the API documents for a call attempt (no runtime section)."""
        return self.model_dump(mode="json", exclude={"runtime"})

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready data."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """The whole report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

"""The call attempt of the API reference, field for field, as call objects carry it.

It belongs to the config contract (a call object lists its ``call_attempts``); the runtime's
own report (``report.model.CallReport``) extends it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import field_serializer, field_validator

from .base import ConfigModel
from .fields import PhoneNumber, Timestamp

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

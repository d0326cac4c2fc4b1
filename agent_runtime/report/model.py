"""The call report model, shaped like one ``call_attempts[]`` item of the API reference.

``CallAttempt`` (``config.attempt``) is the API object, field for field. ``CallReport`` adds
``runtime``: what the runtime measured and decided (speech timing, per-turn latency, warnings,
call events), kept apart so ``to_api_dict`` can leave it out.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config.assistant import Outcome
from ..config.attempt import CallAttempt


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


class AfterCallStep(BaseModel):
    """One step run after the call, and how it went."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: Literal["done", "queued", "skipped", "failed"]
    """``queued``: handed to the outbox, delivered as soon as possible."""
    detail: str | None = None


class FaqCandidate(BaseModel):
    """A question the caller asked that the assistant could not answer: a FAQ item to write."""

    model_config = ConfigDict(frozen=True)

    question: str
    source: Literal["ai"] = "ai"
    needs_human_answer: bool = True


class AfterCallSection(BaseModel):
    """What ran after the call: its steps, and the call-level results they produced."""

    model_config = ConfigDict(frozen=True)

    steps: list[AfterCallStep] = Field(default_factory=list)
    outcome: Outcome | None = None
    outcome_summary: str | None = None
    faq_candidates: list[FaqCandidate] = Field(default_factory=list)


class RuntimeSection(BaseModel):
    """The runtime's additions to the API's call attempt."""

    model_config = ConfigDict(frozen=True)

    call_id: str | None = None
    assistant_id: str | None = None
    direction: Literal["inbound", "outbound"] | None = None
    duration: float | None = Field(default=None, description="Seconds from start to end.")
    speech: list[SpeechSegment] = Field(default_factory=list)
    transcript_at: list[float] = Field(
        default_factory=list,
        description="Seconds from the answer at which each transcript row began, in the "
        "transcript's order: a spoken row when its speech started, a tool row when its result "
        "came.",
    )
    latency: list[TurnLatency] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    events: list[CallEvent] = Field(default_factory=list)
    error: str | None = None
    after_call: AfterCallSection | None = None
    """Filled once the steps after the call have run."""


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

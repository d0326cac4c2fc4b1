"""The call object the runtime receives: who is called, with which assistant and variables."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from .assistant import AssistantConfig, DelayMs, Outcome
from .attempt import CallAttempt
from .base import ConfigModel
from .fields import PhoneNumber, Timestamp
from .llm import LLMModel
from .retry import CallRetryConfig

CallStatus = Literal[
    "initializing",
    "queued_for_calling",
    "calling",
    "scheduled",
    "completed",
    "cancelled",
    "errored",
]


def _string_map(value: Any) -> Any:
    """Accept scalar values in a string map (``{"age": 42}``) and read them as text."""
    if isinstance(value, dict):
        return {
            k: ("true" if v else "false")
            if isinstance(v, bool)
            else str(v)
            if isinstance(v, int | float)
            else v
            for k, v in value.items()
        }
    return value


StringMap = Annotated[dict[str, str], BeforeValidator(_string_map)]


class Campaign(ConfigModel):
    """The campaign a call belongs to."""

    id: str
    name: str = ""


class CallConfig(ConfigModel):
    """The call object of the API reference, field for field."""

    id: str = Field(min_length=1)
    assistant: AssistantConfig
    direction: Literal["inbound", "outbound"]
    from_phone_number: PhoneNumber = None
    to_phone_number: PhoneNumber = None
    prompt_variables: StringMap = Field(default_factory=dict)
    metadata: StringMap = Field(default_factory=dict)
    llm_model: LLMModel | None = None
    first_sentence_delay_ms: DelayMs | None = Field(default=None, le=9007199254740991)
    call_retry_config: CallRetryConfig | None = None
    organization_id: str | None = None
    status: CallStatus | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    scheduled_at: Timestamp = None
    calls_count: float | None = None
    campaign: Campaign | None = None
    is_cancelled: bool | None = None
    is_completed: bool | None = None
    outcome: Outcome | None = None
    outcome_summary: str | None = None
    call_attempts: list[CallAttempt] = Field(default_factory=list)
    last_call_attempt: CallAttempt | None = None

    @property
    def user_phone_number(self) -> str | None:
        """The number of the person on the line: the callee when outbound, else the caller."""
        return self.to_phone_number if self.direction == "outbound" else self.from_phone_number

    @property
    def agent_phone_number(self) -> str | None:
        """The number the agent calls from (outbound) or answers on (inbound)."""
        return self.from_phone_number if self.direction == "outbound" else self.to_phone_number

    def review(self) -> list[tuple[str, str]]:
        """Warn where the call and its assistant disagree (the assistant's value is used)."""
        notes: list[tuple[str, str]] = []
        fields_set = self.assistant.model_fields_set
        own_llm = self.assistant.llm_model
        if self.llm_model and "llm_model" in fields_set and self.llm_model != own_llm:
            notes.append(("llm_model", "differs from assistant.llm_model, which is used"))
        if (
            self.first_sentence_delay_ms is not None
            and "first_sentence_delay_ms" in fields_set
            and self.first_sentence_delay_ms != self.assistant.first_sentence_delay_ms
        ):
            notes.append(
                ("first_sentence_delay_ms", "differs from the assistant's value, which is used")
            )
        return notes

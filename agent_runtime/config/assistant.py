"""The assistant configuration: everything that shapes one phone conversation."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..errors import TemplateError
from .base import ConfigModel, note
from .fields import (
    HttpUrlOrNone,
    PhoneNumber,
    Timestamp,
    forbidden_address,
    is_http_url,
    url_host,
)
from .llm import DEFAULT_LLM, LLMModel
from .retry import CallRetryConfig
from .templating import PLACEHOLDER, render_json

ThinkingSound = Literal[
    "city-ambience.ogg",
    "forest-ambience.ogg",
    "office-ambience.ogg",
    "crowded-room.ogg",
    "keyboard-typing.ogg",
    "keyboard-typing2.ogg",
    "hold_music.ogg",
]
Outcome = Literal[
    "not_interested",
    "interested",
    "completed",
    "requested_callback_later",
    "requested_callback_new_number",
    "do_not_contact",
]
FieldType = Literal["string", "number", "boolean", "enum", "date", "datetime"]

SPEED_RANGES: dict[str, tuple[float, float]] = {"cartesia": (0.6, 1.5), "elevenlabs": (0.7, 1.2)}
"""Voice speed each provider documents; a speed outside is clamped with a warning."""

RESERVED_TOOL_NAMES = frozenset(
    {
        "end_call",
        "send_sms",
        "transfer_call",
        "transfer_to_human",
        "send_dtmf",
        "skip_turn",
        "find_slots",
        "book_slot",
    }
)
"""Names of the runtime's own tools, which custom tools may not take."""

DEFAULT_MAX_CALL_DURATION_SECS = 1800.0
"""The limit applied when ``max_call_duration_secs`` is not set (30 minutes)."""

_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Voice(ConfigModel):
    """The agent's voice. ``id`` and ``provider`` come first: ``speed`` is checked against it."""

    id: str = Field(min_length=1)
    provider: Literal["cartesia", "elevenlabs"]
    speed: float = 1.0
    volume: float = Field(default=1.0, ge=0.5, le=2.0)

    @field_validator("speed", mode="after")
    @classmethod
    def _clamp_speed(cls, speed: float, info: ValidationInfo) -> float:
        if not math.isfinite(speed) or speed <= 0:
            raise ValueError("must be a positive number")
        provider = str(info.data.get("provider", ""))
        low, high = SPEED_RANGES.get(provider, (0.6, 1.5))
        clamped = min(max(speed, low), high)
        if clamped != speed:
            note("speed", f"{speed} is outside {provider}'s range {low}-{high}; {clamped} is used")
        return clamped

    def review(self) -> list[tuple[str, str]]:
        """Warn about a volume the provider does not take (the API: "Cartesia only")."""
        if self.provider != "cartesia" and self.volume != 1.0:
            return [("volume", f"Cartesia only; ignored for {self.provider} voices")]
        return []


class Calendly(ConfigModel):
    """The Calendly account link and the event type calls book into."""

    connection_id: str = Field(min_length=1)
    event_type_id: str = Field(min_length=1)


class KeyValue(ConfigModel):
    """A header or query parameter; ``value`` supports ``{{variable}}`` placeholders."""

    key: str = Field(min_length=1)
    value: str = ""


class FieldSpec(ConfigModel):
    """One typed value: a custom tool parameter or a structured output field."""

    name: str = Field(min_length=1)
    required: bool = False
    type: FieldType
    description: str | None = None
    enum_options: list[str] | None = None

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not _IDENTIFIER.match(name):
            raise ValueError("must be letters, digits and underscores, starting with a letter")
        return name

    @model_validator(mode="after")
    def _enum_needs_options(self) -> FieldSpec:
        if self.type == "enum" and not self.enum_options:
            raise ValueError("an enum needs enum_options")
        return self

    def review(self) -> list[tuple[str, str]]:
        """Warn about options given to a field that is not an enum."""
        if self.type != "enum" and self.enum_options:
            return [("enum_options", f"only used by enum fields; ignored for {self.type}")]
        return []


def _unique_names(items: list[Any], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise ValueError(f"{what} names must be unique; '{item.name}' appears twice")
        seen.add(item.name)


def _host_problem(url: str) -> str | None:
    """Why the egress guard refuses ``url``'s host whatever the settings, if it does.

    A literal private or reserved address is refused here although ``HTTP_TOOLS_ALLOW`` might
    let it through at run time: a tool for a local service names it (``localhost``) or is
    rewritten to it (``HTTP_TOOLS_REWRITE``).
    """
    try:
        host = url_host(url)
    except ValueError:
        return "host is not a valid host name or IP address"
    if not isinstance(host, str) and forbidden_address(host):
        return f"host {host} is a private or reserved address"
    return None


class CustomTool(ConfigModel):
    """An HTTP endpoint of the customer's that the LLM may call during the call."""

    name: str = Field(min_length=1, description="Unique, lowercase_snake_case.")
    description: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: str = Field(min_length=1)
    headers: list[KeyValue] = Field(default_factory=list)
    query_params: list[KeyValue] = Field(default_factory=list)
    input_schema: list[FieldSpec] = Field(default_factory=list)
    body_template: str | None = None

    @field_validator("name")
    @classmethod
    def _snake_case(cls, name: str) -> str:
        if not _SNAKE.match(name):
            raise ValueError("must be lowercase_snake_case, e.g. check_inventory")
        if name in RESERVED_TOOL_NAMES:
            raise ValueError(f"'{name}' is the name of a built-in tool; choose another")
        return name

    @model_validator(mode="after")
    def _unique_parameters(self) -> CustomTool:
        _unique_names(self.input_schema, "input_schema")
        return self

    def unusable_reason(self) -> str | None:
        """Why the runtime cannot call this tool as configured, or None when it can."""
        probe = PLACEHOLDER.sub("x", self.url)
        if not is_http_url(probe):
            return "url is not an absolute http(s) URL"
        host_problem = _host_problem(probe)
        if host_problem:
            return f"url {host_problem}"
        if self.body_template and self.method not in ("GET", "DELETE"):
            try:
                render_json(self.body_template, {})
            except TemplateError as err:
                return f"body_template {err}"
        return None

    def review(self) -> list[tuple[str, str]]:
        """Warn when the tool cannot be called, or when a GET/DELETE carries a body."""
        notes: list[tuple[str, str]] = []
        reason = self.unusable_reason()
        if reason:
            notes.append(
                (
                    "url" if reason.startswith("url") else "body_template",
                    f"{reason.split(' ', 1)[1]}; this tool is disabled",
                )
            )
        if self.body_template and self.method in ("GET", "DELETE"):
            notes.append(("body_template", f"not sent with {self.method}; ignored"))
        return notes


class FaqItem(ConfigModel):
    """A question and its answer, given to the LLM."""

    question: str
    answer: str
    id: str | None = None
    needs_human_answer: bool | None = None
    source: Literal["human", "ai"] | None = None


class FlowEdge(ConfigModel):
    """An edge of the visual prompt editor."""

    id: str
    source: str
    target: str


class FlowNodeData(ConfigModel):
    """A prompt block's content."""

    body: str = ""
    title: str = ""


class FlowPosition(ConfigModel):
    """Where a block sits in the editor."""

    x: float = 0
    y: float = 0


class FlowNode(ConfigModel):
    """A block of the visual prompt editor."""

    id: str
    data: FlowNodeData = Field(default_factory=FlowNodeData)
    position: FlowPosition = Field(default_factory=FlowPosition)
    type: Literal["promptBlock"] = "promptBlock"


class PromptFlow(ConfigModel):
    """Visual editor data. Kept for round trips; never sent to the LLM (``prompt`` is)."""

    edges: list[FlowEdge] = Field(default_factory=list)
    nodes: list[FlowNode] = Field(default_factory=list)


def _delay_ms(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        note(info.field_name or "first_sentence_delay_ms", "is negative; 0 is used")
        return 0
    return value


DelayMs = Annotated[int, BeforeValidator(_delay_ms)]


def _duration(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
        note(
            info.field_name or "max_call_duration_secs",
            f"must be above 0; the default limit of {DEFAULT_MAX_CALL_DURATION_SECS:g} s applies",
        )
        return None
    return value


class AssistantConfig(ConfigModel):
    """The assistant object of the API reference, field for field."""

    id: str | None = None
    name: str = ""
    organization_id: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    prompt: str = Field(description="The system prompt; supports {{variable}} placeholders.")
    first_sentence: str | None = None
    first_sentence_mode: Literal["generated", "static", "none"] = "generated"
    first_sentence_delay_ms: DelayMs = Field(default=400, le=9007199254740991)
    voice: Voice | None = None
    llm_model: LLMModel = DEFAULT_LLM
    background_sound: Literal["audio/office.ogg"] | None = None
    background_sound_volume: float = Field(default=0.5, ge=0, le=1)
    thinking_sound: ThinkingSound | None = None
    thinking_sound_probability: float = Field(default=1.0, ge=0, le=1)
    thinking_sound_volume: float = Field(default=0.5, ge=0, le=1)
    ivr_navigation_enabled: bool = False
    transfer_phone_number: PhoneNumber = None
    human_transfer_mode: Literal["warm", "cold"] | None = None
    warm_transfer_summary_instructions: str | None = None
    sms_enabled: bool = False
    sms_template: str | None = None
    after_call_sms_prompt: str | None = None
    voicemail_sms_prompt: str | None = None
    voicemail_message: str | None = None
    calendly: Calendly | None = None
    custom_tools: list[CustomTool] = Field(default_factory=list)
    max_call_duration_secs: Annotated[float | None, BeforeValidator(_duration)] = None
    max_duration_end_message: str | None = Field(default=None, max_length=150)
    end_of_call_sentence: str | None = None
    structured_output_config: list[FieldSpec] = Field(default_factory=list)
    structured_output_prompt: str | None = None
    faq_items: list[FaqItem] = Field(default_factory=list)
    pending_faq_count: float | None = None
    email_notification_address: EmailStr | None = None
    email_notification_outcomes: list[Outcome] = Field(default_factory=list)
    webhook_url: HttpUrlOrNone = None
    from_phone_number: PhoneNumber = None
    call_retry_config: CallRetryConfig | None = None
    prompt_flow: PromptFlow | None = None

    @model_validator(mode="after")
    def _unique_lists(self) -> AssistantConfig:
        _unique_names(self.custom_tools, "custom_tools")
        _unique_names(self.structured_output_config, "structured_output_config")
        return self

    @property
    def transfer_mode(self) -> Literal["warm", "cold"] | None:
        """The transfer the agent can make: None without a usable transfer number."""
        if self.transfer_phone_number is None:
            return None
        return self.human_transfer_mode or "cold"

    @property
    def max_duration_secs(self) -> float:
        """The call's duration limit in seconds, with the runtime default when unset."""
        return self.max_call_duration_secs or DEFAULT_MAX_CALL_DURATION_SECS

    def review(self) -> list[tuple[str, str]]:
        """Warn about settings that contradict each other."""
        notes: list[tuple[str, str]] = []
        if self.transfer_phone_number and self.human_transfer_mode is None:
            notes.append(("human_transfer_mode", "not set; cold transfer is used"))
        if self.human_transfer_mode and not self.transfer_phone_number:
            notes.append(("human_transfer_mode", "transfer_phone_number is not set; no transfer"))
        if self.warm_transfer_summary_instructions and self.transfer_mode == "cold":
            notes.append(("warm_transfer_summary_instructions", "only used by warm transfer"))
        if self.first_sentence_mode == "static" and not self.first_sentence:
            notes.append(("first_sentence", "static mode needs a sentence; the agent waits"))
        if self.sms_template and not self.sms_enabled:
            notes.append(("sms_template", "sms_enabled is false; no SMS is sent during calls"))
        return notes

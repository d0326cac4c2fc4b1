"""``CallSpec``: a validated call with everything resolved that the runner needs.

The runner never reads raw config: it gets the effective LLM, the callee's time zone, the
variables, and every text already rendered, plus the warnings found on the way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ..errors import Problem
from .assistant import AssistantConfig
from .base import collect_warnings
from .call import CallConfig
from .llm import LLMModel
from .not_acted_on import not_acted_on
from .phone import time_zone_of
from .templating import Rendered, render_text
from .voice import VoiceProfile


def resolve_time_zone(
    call: CallConfig, *, root: str = "$", warnings: list[Problem] | None = None
) -> str:
    """The callee's IANA time zone: ``call_retry_config.timezone``, else the number's, else UTC.

    When the number spans several time zones (see ``time_zone_of``), the zone is assumed and a
    warning at the number's JSON path (under ``root``) is appended to ``warnings``.
    """
    for retry in (call.assistant.call_retry_config, call.call_retry_config):
        if retry and retry.timezone:
            return retry.timezone
    number = call.user_phone_number
    found = time_zone_of(number) if number else None
    if found is None:
        return "UTC"
    if found.assumed and warnings is not None:
        field = "to_phone_number" if call.direction == "outbound" else "from_phone_number"
        reason = (
            f"is in several time zones; {found.zone} is assumed "
            "(call_retry_config.timezone sets the callee's zone exactly)"
        )
        warnings.append(Problem(f"{root}.{field}", reason))
    return found.zone


def builtin_variables(call: CallConfig, *, now: datetime, time_zone: str) -> dict[str, str]:
    """The built-in variables at ``now``, read in the callee's time zone."""
    local = now.astimezone(ZoneInfo(time_zone))
    return {
        "call_direction": call.direction,
        "user_phone_number": call.user_phone_number or "",
        "agent_phone_number": call.agent_phone_number or "",
        "current_date": f"{local:%A, %B} {local.day}, {local.year}",
        "current_time": f"{local:%H:%M}",
        "current_datetime": local.isoformat(timespec="minutes"),
        "timezone": time_zone,
    }


def _faq_block(assistant: AssistantConfig) -> str:
    """The FAQ for the LLM: items with an answer that no longer waits for a human."""
    answered = [
        item for item in assistant.faq_items if item.answer.strip() and not item.needs_human_answer
    ]
    if not answered:
        return ""
    lines = ["", "", "Frequently asked questions (answer with these when they apply):"]
    for item in answered:
        lines.append(f"Q: {item.question.strip()}\nA: {item.answer.strip()}")
    return "\n".join(lines)


@dataclass(frozen=True)
class CallSpec:
    """A call ready to run: config, effective settings, rendered texts and warnings."""

    call: CallConfig
    llm_model: LLMModel
    voice: VoiceProfile
    first_sentence_delay_ms: int
    time_zone: str
    variables: Mapping[str, str]
    instructions: str
    first_sentence: str | None
    end_of_call_sentence: str | None
    max_duration_end_message: str | None
    voicemail_message: str | None
    warnings: tuple[Problem, ...] = field(default=())

    @property
    def assistant(self) -> AssistantConfig:
        """The call's assistant."""
        return self.call.assistant

    def render(self, template: str, extra: Mapping[str, object] | None = None) -> Rendered:
        """Render ``template`` with the call's variables, plus ``extra`` (e.g. tool arguments)."""
        variables: dict[str, object] = dict(self.variables)
        if extra:
            variables.update(extra)
        return render_text(template, variables)


def build_call_spec(
    call: CallConfig,
    *,
    root: str = "$",
    now: datetime | None = None,
    assistant_only: bool = False,
) -> CallSpec:
    """Resolve ``call`` into a ``CallSpec``; ``root`` is the JSON path of the call object.

    ``assistant_only``: the call was made up around an assistant (its own fields are not
    reported).
    """
    assistant = call.assistant
    warnings = collect_warnings(call, root)
    warnings.extend(not_acted_on(call, root, assistant_only=assistant_only))
    time_zone = resolve_time_zone(call, root=root, warnings=warnings)
    variables = builtin_variables(call, now=now or datetime.now(UTC), time_zone=time_zone)
    variables.update(call.prompt_variables)

    def text(name: str, template: str | None) -> str | None:
        if template is None:
            return None
        rendered = render_text(template, variables)
        for missing in rendered.missing:
            warnings.append(
                Problem(f"{root}.assistant.{name}", f"{{{{{missing}}}}} has no value; left empty")
            )
        return rendered.text

    for name in ("sms_template", "after_call_sms_prompt", "voicemail_sms_prompt"):
        text(name, getattr(assistant, name))

    explicit = assistant.model_fields_set
    llm_model = assistant.llm_model
    if "llm_model" not in explicit and call.llm_model is not None:
        llm_model = call.llm_model
    delay = assistant.first_sentence_delay_ms
    if "first_sentence_delay_ms" not in explicit and call.first_sentence_delay_ms is not None:
        delay = call.first_sentence_delay_ms

    return CallSpec(
        call=call,
        llm_model=llm_model,
        voice=VoiceProfile.of(assistant.voice),
        first_sentence_delay_ms=delay,
        time_zone=time_zone,
        variables=variables,
        instructions=(text("prompt", assistant.prompt) or "") + _faq_block(assistant),
        first_sentence=text("first_sentence", assistant.first_sentence),
        end_of_call_sentence=text("end_of_call_sentence", assistant.end_of_call_sentence),
        max_duration_end_message=text(
            "max_duration_end_message", assistant.max_duration_end_message
        ),
        voicemail_message=text("voicemail_message", assistant.voicemail_message),
        warnings=tuple(warnings),
    )

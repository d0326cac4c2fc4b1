"""Fields the runtime accepts but does not act on yet.

The API documents what each field does on a call. Until the runtime does it, a config that sets
such a field gets a warning that says so (``check-config --strict`` then fails), so that nobody
counts on a behaviour that will not happen. When a capability is built, its fields leave
``NOT_ACTED_ON``.

Fields that only describe a call order (``status``, ``campaign``, ``call_attempts``...) are data,
not behaviour, and are never reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import Problem
from .call import CallConfig
from .retry import CallRetryConfig


@dataclass(frozen=True)
class NotActedOn:
    """A field of the call object that the runtime accepts and ignores, and what is lost."""

    path: str
    """Its path from the call object (``assistant.webhook_url``)."""
    is_set: Callable[[CallConfig], bool]
    consequence: str
    """What does not happen, in plain words."""


_SCHEDULING = frozenset(
    {"allowed_days", "call_twice_in_a_row", "calling_windows", "max_retry_attempts"}
)


def _schedules(config: CallRetryConfig | None) -> bool:
    return config is not None and bool(config.model_fields_set & _SCHEDULING)


_RETRIES = "retries and calling windows are the dispatcher's; the runtime reads only timezone"

NOT_ACTED_ON: tuple[NotActedOn, ...] = (
    NotActedOn(
        "scheduled_at",
        lambda c: c.scheduled_at is not None,
        "the runtime runs a call when it is dispatched; scheduling is the dispatcher's",
    ),
    NotActedOn(
        "call_retry_config",
        lambda c: _schedules(c.call_retry_config),
        _RETRIES,
    ),
    NotActedOn(
        "assistant.call_retry_config",
        lambda c: _schedules(c.assistant.call_retry_config),
        _RETRIES,
    ),
)


def not_acted_on(
    call: CallConfig, root: str = "$", *, assistant_only: bool = False
) -> list[Problem]:
    """A warning for each field of ``call`` that is set and not acted on yet.

    ``assistant_only``: the call around the assistant was made up (``check-config`` of an
    assistant), so only the assistant's fields are looked at.
    """
    return [
        Problem(f"{root}.{field.path}", f"accepted but not acted on yet: {field.consequence}")
        for field in NOT_ACTED_ON
        if (field.path.startswith("assistant.") or not assistant_only) and field.is_set(call)
    ]

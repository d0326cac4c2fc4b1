"""``call_retry_config``: when a call may be placed and retried, in the callee's time zone.

The runtime does not schedule calls; it reads ``timezone`` to know the callee's local time. The
rest is validated so that a config is checked whole.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo

from .base import ConfigModel, note

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

WORKDAYS: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday")

_CLOCK = re.compile(r"^(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>am|pm)?$", re.IGNORECASE)


def parse_clock(text: str) -> time:
    """Parse ``'HH:mm'`` (24-hour) or ``'H:mma'`` / ``'6pm'`` (12-hour) into a time."""
    match = _CLOCK.match(text.strip())
    if not match:
        raise ValueError("must be a time like '17:00' or '6pm'")
    hour, minute = int(match["h"]), int(match["m"] or 0)
    ampm = (match["ampm"] or "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            raise ValueError("12-hour times run from 1 to 12")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    elif match["m"] is None:
        raise ValueError("24-hour times need minutes, e.g. '09:00'")
    if hour > 23 or minute > 59:
        raise ValueError("is not a time of day")
    return time(hour, minute)


def _clock_or_default(default: str) -> Any:
    def check(value: Any, info: ValidationInfo) -> str:
        if value is None:
            return default
        try:
            parse_clock(str(value))
        except ValueError as err:
            note(info.field_name or "time", f"{err}; the default {default} applies")
            return default
        return str(value)

    return BeforeValidator(check)


def _tolerant_zone(value: Any, info: ValidationInfo) -> str | None:
    if value is None or value == "":
        return None
    try:
        zoneinfo.ZoneInfo(str(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        note(info.field_name or "timezone", "is not an IANA time zone (e.g. Europe/Paris); ignored")
        return None
    return str(value)


class CallingWindow(ConfigModel):
    """A daily window in which calls may be placed."""

    calling_window_start_time: Annotated[str, _clock_or_default("10:00")] = "10:00"
    calling_window_end_time: Annotated[str, _clock_or_default("18:00")] = "18:00"
    retry_delay_seconds: int = Field(default=7200, gt=0, le=9007199254740991)


class CallRetryConfig(ConfigModel):
    """Retry behaviour and the callee's time zone."""

    allowed_days: list[Weekday] = Field(default_factory=lambda: list(WORKDAYS))
    call_twice_in_a_row: bool = False
    calling_windows: list[CallingWindow] = Field(default_factory=lambda: [CallingWindow()])
    max_retry_attempts: int = Field(default=3, gt=0, le=9007199254740991)
    timezone: Annotated[str | None, BeforeValidator(_tolerant_zone)] = None

"""Field types shared by the config models.

"Tolerant" types accept the odd values the API reference shows in its response examples: they
keep a safe reading and record a warning (see ``base.note``) instead of failing the document.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, ValidationInfo

from .base import note
from .phone import to_e164


def _field(info: ValidationInfo) -> str:
    return info.field_name or "value"


def _tolerant_phone(value: Any, info: ValidationInfo) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        note(_field(info), "must be a phone number string in E.164 format; ignored")
        return None
    try:
        return to_e164(value)
    except ValueError as err:
        note(_field(info), f"{err}; ignored")
        return None


PhoneNumber = Annotated[str | None, BeforeValidator(_tolerant_phone)]
"""An E.164 number; an invalid one is dropped with a warning (the feature using it is off)."""


def parse_timestamp(value: Any) -> datetime:
    """Parse an ISO 8601 string or epoch seconds / milliseconds into an aware UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    elif isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > 1e11 else value
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError(f"unrecognised timestamp shape ({type(value).__name__})")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _tolerant_timestamp(value: Any, info: ValidationInfo) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value)
    except (ValueError, OverflowError, OSError):
        note(_field(info), "is not an ISO 8601 timestamp or epoch time; ignored")
        return None


Timestamp = Annotated[datetime | None, BeforeValidator(_tolerant_timestamp)]
"""A point in time (ISO 8601 or epoch); the API documents its shape as unknown, so an
unreadable value is dropped with a warning."""


def is_http_url(value: str) -> bool:
    """True when ``value`` is an absolute http(s) URL with a host."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _tolerant_url(value: Any, info: ValidationInfo) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and is_http_url(value.strip()):
        return value.strip()
    note(_field(info), "is not an absolute http(s) URL; ignored")
    return None


HttpUrlOrNone = Annotated[str | None, BeforeValidator(_tolerant_url)]
"""An absolute http(s) URL; anything else is dropped with a warning."""


def _strict_url(value: Any) -> Any:
    if isinstance(value, str) and not is_http_url(value.strip()):
        raise ValueError("must be an absolute http(s) URL, e.g. https://api.example.com/v1")
    return value.strip() if isinstance(value, str) else value


StrictHttpUrl = Annotated[str, BeforeValidator(_strict_url)]
"""An absolute http(s) URL; anything else is an error."""

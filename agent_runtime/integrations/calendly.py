"""Calendly API v2: free times of an event type, and bookings through the Scheduling API.

- ``GET /event_type_available_times?event_type=&start_time=&end_time=``: the range is asked in
  windows of at most ``CALENDLY_MAX_WINDOW_DAYS`` (7, the historical limit; Calendly now takes
  31) and must lie in the future.
- ``POST /invitees`` with ``event_type``, ``start_time`` (UTC) and ``invitee`` (``name``,
  ``email``, ``timezone``): paid plans only (403 otherwise).

Errors become ``ToolError``s in words the LLM can act on. A refused token (401) is fetched
again once. A booking whose request may have reached Calendly without an answer is reported as
maybe made, never retried.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import NoAnswer, NotReached, ToolError
from .api_http import ApiAnswer, request_json
from .calendly_settings import CalendlySettings
from .calendly_tokens import TokenProvider

EVENT_TYPE_PREFIX = "https://api.calendly.com/event_types/"
_SLOT_TAKEN = re.compile(
    r"already_filled|no longer available|not available|unavailable|already (been )?(taken|booked)",
    re.IGNORECASE,
)
_MAYBE_BOOKED = (
    "The booking may or may not have been made: do not book again; the caller gets a "
    "confirmation email if it was."
)


def event_type_uri(event_type_id: str) -> str:
    """The event type's canonical URI, from a full URI or a bare UUID."""
    value = event_type_id.strip()
    if value.startswith(("https://", "http://")):
        return value
    return EVENT_TYPE_PREFIX + value.strip("/")


def iso_utc(moment: datetime) -> str:
    """``moment`` as Calendly writes times: UTC, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Booking:
    """A booked slot (a Calendly invitee)."""

    invitee_uri: str
    event_uri: str | None
    start: datetime


def _details(data: Any) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(data, dict):
        return "", []
    details = [d for d in data.get("details") or [] if isinstance(d, dict)]
    return str(data.get("message") or data.get("title") or ""), details


def _error(answer: ApiAnswer, *, booking: bool) -> ToolError:
    message, details = _details(answer.data)
    status = answer.status
    said = " ".join([message, *(f"{d.get('code', '')} {d.get('message', '')}" for d in details)])
    if status == 401:
        return ToolError(
            "The calendar connection is not authorized; booking is unavailable.", code="auth_failed"
        )
    if status == 403:
        return ToolError(
            "The calendar account does not allow booking through the API.", code="forbidden"
        )
    if status == 404:
        return ToolError("The calendar's event type was not found.", code="not_found")
    if status == 429:
        return ToolError(
            "The calendar is busy right now; try again in a minute.", code="rate_limited"
        )
    if status >= 500:
        if booking:
            return ToolError(
                f"The calendar service failed. {_MAYBE_BOOKED}",
                code="service_error",
                maybe_done=True,
            )
        return ToolError("The calendar service failed; try again shortly.", code="service_error")
    if booking and (status == 409 or _SLOT_TAKEN.search(said)):
        return ToolError(
            "That time is no longer available; look for other free times.", code="slot_taken"
        )
    if any("email" in str(d.get("parameter", "")) for d in details):
        return ToolError(
            "The calendar refused the email address; ask the caller to spell it again.",
            code="invalid_email",
        )
    reasons = "; ".join(f"{d.get('parameter', '')} {d.get('message', '')}".strip() for d in details)
    text = " ".join((reasons or message or f"HTTP {status}").split())[:160]
    return ToolError(f"The calendar refused the request: {text}.", code="refused")


class CalendlyClient:
    """Calendly API v2 for one connection."""

    def __init__(self, tokens: TokenProvider, settings: CalendlySettings | None = None) -> None:
        self._tokens = tokens
        self._settings = settings or CalendlySettings()

    async def available_times(
        self, event_type: str, start: datetime, end: datetime
    ) -> list[datetime]:
        """The free start times in ``[start, end)``, in order, asked window by window."""
        step = timedelta(days=self._settings.window_days)
        windows: list[tuple[datetime, datetime]] = []
        cursor = start
        while cursor < end:
            windows.append((cursor, min(cursor + step, end)))
            cursor += step
        pages = await asyncio.gather(*(self._window(event_type, a, b) for a, b in windows))
        return sorted({moment for page in pages for moment in page})

    async def _window(self, event_type: str, start: datetime, end: datetime) -> list[datetime]:
        params = {"event_type": event_type, "start_time": iso_utc(start), "end_time": iso_utc(end)}
        path = "/event_type_available_times"
        answer = await self._call("GET", path, booking=False, params=params)
        found: list[datetime] = []
        collection = answer.data.get("collection") if isinstance(answer.data, dict) else None
        for item in collection or []:
            if not isinstance(item, dict) or item.get("status") != "available":
                continue
            try:
                found.append(datetime.fromisoformat(str(item["start_time"])).astimezone(UTC))
            except (KeyError, ValueError):
                continue
        return found

    async def book(
        self, event_type: str, start: datetime, *, name: str, email: str, time_zone: str
    ) -> Booking:
        """Book ``start`` for the invitee; raises ``ToolError`` (``maybe_done`` if unsure)."""
        body = {
            "event_type": event_type,
            "start_time": iso_utc(start),
            "invitee": {"name": name, "email": email, "timezone": time_zone},
        }
        answer = await self._call("POST", "/invitees", booking=True, json=body)
        resource = answer.data.get("resource") if isinstance(answer.data, dict) else None
        uri = resource.get("uri") if isinstance(resource, dict) else None
        if not isinstance(resource, dict) or not isinstance(uri, str):
            raise ToolError(
                f"The calendar answered oddly. {_MAYBE_BOOKED}", code="bad_answer", maybe_done=True
            )
        event = resource.get("event")
        return Booking(uri, event if isinstance(event, str) else None, start)

    async def _call(self, method: str, path: str, *, booking: bool, **kwargs: Any) -> ApiAnswer:
        token = await self._tokens.token()
        answer = await self._send(method, path, token, booking=booking, **kwargs)
        if answer.status == 401:
            fresh = await self._tokens.token(refresh=True)
            if fresh != token:
                answer = await self._send(method, path, fresh, booking=booking, **kwargs)
        if answer.status >= 300:
            raise _error(answer, booking=booking)
        return answer

    async def _send(
        self, method: str, path: str, token: str, *, booking: bool, **kwargs: Any
    ) -> ApiAnswer:
        try:
            return await request_json(
                method,
                self._settings.base_url.rstrip("/") + path,
                time_limit=self._settings.timeout,
                headers={"Authorization": f"Bearer {token}"},
                **kwargs,
            )
        except NotReached:
            raise ToolError(
                "The calendar could not be reached; try again shortly.", code="unreachable"
            ) from None
        except NoAnswer:
            if booking:
                raise ToolError(
                    f"The calendar did not answer in time. {_MAYBE_BOOKED}",
                    code="no_answer",
                    maybe_done=True,
                ) from None
            raise ToolError(
                "The calendar did not answer in time; try again shortly.", code="no_answer"
            ) from None

"""``find_slots`` and ``book_slot``: Calendly booking during the call (``calendly``).

Dates are read, and times offered, in the callee's time zone (``spec.time_zone``), in words a
voice can say ("Tuesday, December 2 at 2:30 PM"); each time also carries its exact UTC
``start_time``, which the LLM passes back to ``book_slot``. One slot for one email is booked at
most once per call: asking again returns the first booking. Offered only when ``calendly`` is
configured and a token source is set (see ``agent_runtime.integrations.calendly_tokens``).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from livekit.agents import RunContext, llm

from agent_runtime.errors import ToolError
from agent_runtime.integrations.calendly import (
    Booking,
    CalendlyClient,
    event_type_uri,
    iso_utc,
)
from agent_runtime.integrations.calendly_tokens import token_provider
from agent_runtime.integrations.once import AtMostOnce
from agent_runtime.log import logger

from .context import CallControl, PluginContext

MAX_DAYS = 28
MAX_LISTED = 20
DATE = {"type": "string", "format": "date", "description": "YYYY-MM-DD, the caller's date"}


def spoken_date(day: date) -> str:
    """``Tuesday, December 2``."""
    return f"{day:%A, %B} {day.day}"


def spoken_time(moment: datetime, zone: ZoneInfo) -> str:
    """``Tuesday, December 2 at 2:30 PM`` (``at 2 PM`` on the hour), read in ``zone``."""
    local = moment.astimezone(zone)
    hour = local.hour % 12 or 12
    minutes = f":{local.minute:02d}" if local.minute else ""
    return f"{spoken_date(local.date())} at {hour}{minutes} {'AM' if local.hour < 12 else 'PM'}"


def _now() -> datetime:
    return datetime.fromtimestamp(time.time(), UTC)


def _date(raw: dict[str, Any], name: str) -> date | None:
    value = raw.get(name)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise llm.ToolError(f"{name} must be a date written YYYY-MM-DD.") from None


class Scheduler:
    """The call's view of one Calendly event type, in the callee's time zone."""

    def __init__(
        self, client: CalendlyClient, *, event_type: str, zone: str, control: CallControl
    ) -> None:
        self._client = client
        self._event_type = event_type
        self._zone_name = zone
        self._zone = ZoneInfo(zone)
        self._control = control
        self._bookings: AtMostOnce[Booking] = AtMostOnce()

    def today(self) -> date:
        """The callee's date now."""
        return _now().astimezone(self._zone).date()

    async def find(self, first: date, last: date) -> str:
        """The free times from ``first`` to ``last`` (callee dates, inclusive), for the LLM."""
        if last < first:
            raise llm.ToolError("end_date is before start_date.")
        today = self.today()
        if last < today:
            raise llm.ToolError(f"Those dates are past; today is {spoken_date(today)}.")
        first = max(first, today)
        clipped = last > first + timedelta(days=MAX_DAYS - 1)
        last = min(last, first + timedelta(days=MAX_DAYS - 1))
        start = max(self._midnight(first), _now() + timedelta(minutes=1))
        try:
            times = await self._client.available_times(
                self._event_type, start, self._midnight(last + timedelta(days=1))
            )
        except ToolError as err:
            self._failed("find", err)
            raise llm.ToolError(err.message) from None
        self._control.event("calendly_slots", found=len(times), days=(last - first).days + 1)
        span = f"on {spoken_date(first)}"
        if last != first:
            span = f"between {spoken_date(first)} and {spoken_date(last)}"
        if not times:
            return f"No free times {span}. Offer to look at other days."
        lines = [f"- {spoken_time(t, self._zone)}: start_time {iso_utc(t)}" for t in times]
        notes = []
        if len(lines) > MAX_LISTED:
            notes.append(f"{len(lines) - MAX_LISTED} more not listed; ask for fewer days.")
        if clipped:
            notes.append(f"Only the first {MAX_DAYS} days were searched.")
        return "\n".join(
            [
                f"Free times {span}, in the caller's time zone ({self._zone_name}):",
                *lines[:MAX_LISTED],
                *notes,
                "Offer two or three of them in words. To book one, pass its exact start_time "
                "to book_slot.",
            ]
        )

    async def book(self, start: datetime, name: str, email: str) -> str:
        """Book ``start`` for ``name`` / ``email`` once; the confirmation for the LLM."""
        key = f"{iso_utc(start)}|{email.lower()}"
        repeated = self._bookings.started(key)
        try:
            booking = await self._bookings.run(key, lambda: self._book(start, name, email))
        except ToolError as err:
            raise llm.ToolError(err.message) from None
        when = spoken_time(booking.start, self._zone)
        if repeated:
            return f"Already booked earlier in this call for {when}; nothing new was booked."
        return f"Booked for {when} ({self._zone_name}). A confirmation email goes to {email}."

    async def _book(self, start: datetime, name: str, email: str) -> Booking:
        try:
            booking = await self._client.book(
                self._event_type, start, name=name, email=email, time_zone=self._zone_name
            )
        except ToolError as err:
            self._failed("book", err)
            raise
        self._control.event("calendly_booked", invitee=booking.invitee_uri, event=booking.event_uri)
        logger.info("calendly booking made: %s", booking.invitee_uri)
        return booking

    async def aclose(self) -> None:
        """Wait for a booking still on the wire: its outcome goes into the report."""
        await self._bookings.aclose()

    def _failed(self, operation: str, error: ToolError) -> None:
        self._control.event(
            "calendly_failed", operation=operation, code=error.code, maybe_booked=error.maybe_done
        )
        logger.warning("calendly %s failed: %s", operation, error.code)

    def _midnight(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self._zone)

    def start_time(self, value: object) -> datetime:
        """The instant the LLM passed back (naive times are the callee's); must be ahead."""
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise llm.ToolError(
                "start_time must be the exact start_time given by find_slots."
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self._zone)
        if moment <= _now():
            raise llm.ToolError("That time is past; look for other free times.")
        return moment.astimezone(UTC)


def _build(scheduler: Scheduler, zone: str) -> list[llm.Tool | llm.Toolset]:
    async def find_slots(raw_arguments: dict[str, Any], context: RunContext) -> str:
        first = _date(raw_arguments, "start_date")
        if first is None:
            raise llm.ToolError("start_date is required (YYYY-MM-DD).")
        return await scheduler.find(first, _date(raw_arguments, "end_date") or first)

    async def book_slot(raw_arguments: dict[str, Any], context: RunContext) -> str:
        start = scheduler.start_time(raw_arguments.get("start_time"))
        name = str(raw_arguments.get("name") or "").strip()
        if not name:
            raise llm.ToolError("Ask for the caller's name first.")
        try:
            email = validate_email(
                str(raw_arguments.get("email") or ""), check_deliverability=False
            ).normalized
        except EmailNotValidError:
            raise llm.ToolError(
                "The email address is not valid; ask the caller to spell it."
            ) from None
        return await scheduler.book(start, name, email)

    today = spoken_date(scheduler.today())
    find_schema = {
        "name": "find_slots",
        "description": (
            "Finds free times to book a meeting, between two dates of the caller's calendar "
            f"(time zone {zone}; today there is {today}). Ask for one day or a few days."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "start_date": DATE,
                "end_date": {**DATE, "description": "YYYY-MM-DD, inclusive; default start_date"},
            },
            "required": ["start_date"],
        },
    }
    book_schema = {
        "name": "book_slot",
        "description": (
            "Books a meeting at a free time found by find_slots, once the caller chose it and "
            "gave their name and email. Confirm the time in words afterwards."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "start_time": {
                    "type": "string",
                    "description": "The exact start_time given by find_slots",
                },
                "name": {"type": "string", "description": "The caller's full name"},
                "email": {"type": "string", "description": "The caller's email address"},
            },
            "required": ["start_time", "name", "email"],
        },
    }
    return [
        llm.function_tool(find_slots, raw_schema=find_schema),
        llm.function_tool(book_slot, raw_schema=book_schema),
    ]


def tools(ctx: PluginContext) -> list[llm.Tool | llm.Toolset]:
    """``find_slots`` and ``book_slot`` when Calendly is configured and a token is available."""
    config = ctx.spec.assistant.calendly
    if config is None:
        return []
    settings = ctx.integrations.calendly
    tokens = token_provider(settings, config.connection_id)
    if tokens is None:
        reason = "no Calendly token: set CALENDLY_TOKEN, CALENDLY_TOKEN_<ID> or CALENDLY_TOKEN_URL"
        logger.warning("find_slots and book_slot are not offered: %s", reason)
        ctx.control.event("calendly_unavailable", reason=reason)
        return []
    scheduler = Scheduler(
        CalendlyClient(tokens, settings),
        event_type=event_type_uri(config.event_type_id),
        zone=ctx.spec.time_zone,
        control=ctx.control,
    )
    ctx.control.own(scheduler)
    return _build(scheduler, ctx.spec.time_zone)

"""A local stand-in for Calendly API v2 and for the platform's token endpoint.

Where the runtime depends on it, it behaves like Calendly: bearer auth (401 ``Unauthenticated``),
``GET /event_type_available_times`` (required parameters, a future range of at most 7 days,
``collection`` of ``{status, invitees_remaining, start_time, scheduling_url}``), ``POST
/invitees`` (201 ``resource``; 400 ``Invalid Argument`` with ``details`` for a taken slot or a
bad email; 403 on a plan without API booking), error bodies ``{title, message, details}``.
Tests script extra answers (429, 5xx, a slow answer) in ``script``.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

TOKEN = "calendly-pat-SECRET-9f8e7d"
PLATFORM_AUTH = "platform-key-SECRET-1234"
CONNECTION = "conn_acme_sales"
EVENT_TYPE = "https://api.calendly.com/event_types/b2330295-2a91-4a1d-bb73-99e7707663d5"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INVALID = {"title": "Invalid Argument", "message": "The supplied parameters are invalid."}


@dataclass
class Scripted:
    """An answer given before the normal one (consumed in order, per path)."""

    status: int
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


class FakeCalendly:
    """Serves the Calendly endpoints the runtime uses, and ``/tokens`` for the platform."""

    def __init__(self, open_slots: list[datetime]) -> None:
        self.open_slots = set(open_slots)
        self.tokens = {TOKEN}
        self.connections = {CONNECTION: TOKEN}
        self.paid_plan = True
        self.script: dict[str, list[Scripted]] = {}
        self.bookings: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_get("/event_type_available_times", self._available)
        self.app.router.add_post("/invitees", self._invite)
        self.app.router.add_get("/tokens", self._token)

    def env(self, base_url: str) -> dict[str, str]:
        """The environment pointing the runtime at this fake, with a token from the platform."""
        return {
            "CALENDLY_BASE_URL": base_url,
            "CALENDLY_TOKEN_URL": f"{base_url}/tokens",
            "CALENDLY_TOKEN_URL_AUTH": PLATFORM_AUTH,
        }

    def take(self, moment: datetime) -> None:
        """Someone else books ``moment``."""
        self.open_slots.discard(moment)

    async def _scripted(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.method, request.path, dict(request.query)))
        queue = self.script.get(request.path)
        if not queue:
            return None
        answer = queue.pop(0)
        await asyncio.sleep(answer.delay)
        if answer.status < 300:
            return None
        return web.json_response(answer.json, status=answer.status, headers=answer.headers)

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if header.removeprefix("Bearer ") in self.tokens:
            return None
        body = {"title": "Unauthenticated", "message": "The access token is invalid"}
        return web.json_response(body, status=401)

    @staticmethod
    def _invalid(parameter: str, message: str, code: str | None = None) -> web.Response:
        detail = {"parameter": parameter, "message": message}
        if code:
            detail["code"] = code
        return web.json_response({**INVALID, "details": [detail]}, status=400)

    async def _available(self, request: web.Request) -> web.Response:
        refused = await self._scripted(request) or self._unauthorized(request)
        if refused:
            return refused
        query = request.query
        for name in ("event_type", "start_time", "end_time"):
            if name not in query:
                return self._invalid(name, "is required")
        if query["event_type"] != EVENT_TYPE:
            body = {
                "title": "Resource Not Found",
                "message": "The server could not find the requested resource.",
            }
            return web.json_response(body, status=404)
        start, end = _moment(query["start_time"]), _moment(query["end_time"])
        if start < datetime.now(UTC):
            return self._invalid("start_time", "must be in the future")
        if end <= start or end - start > timedelta(days=7):
            return self._invalid("end_time", "date range can be no greater than 1 week (7 days)")
        collection = [
            {
                "status": "available",
                "invitees_remaining": 1,
                "start_time": _stamp(slot),
                "scheduling_url": "https://calendly.com/acme/demo/" + _stamp(slot),
            }
            for slot in sorted(self.open_slots)
            if start <= slot < end
        ]
        return web.json_response({"collection": collection})

    async def _invite(self, request: web.Request) -> web.Response:
        refused = await self._scripted(request) or self._unauthorized(request)
        if refused:
            return refused
        if not self.paid_plan:
            body = {
                "title": "Permission Denied",
                "message": "You do not have permission to access this resource.",
            }
            return web.json_response(body, status=403)
        body = await request.json()
        invitee = body.get("invitee") or {}
        if body.get("event_type") != EVENT_TYPE:
            return self._invalid("event_type", "is invalid")
        if not EMAIL.match(str(invitee.get("email", ""))):
            return self._invalid("invitee.email", "is invalid")
        if not (invitee.get("name") or invitee.get("first_name")):
            return self._invalid("invitee.name", "is required")
        try:
            ZoneInfo(str(invitee.get("timezone")))
        except (ZoneInfoNotFoundError, ValueError):
            return self._invalid("invitee.timezone", "is invalid")
        start = _moment(str(body.get("start_time")))
        if start not in self.open_slots:
            return self._invalid(
                "start_time", "The selected time is no longer available.", "already_filled"
            )
        self.open_slots.discard(start)
        event = f"https://api.calendly.com/scheduled_events/{uuid.uuid4().hex}"
        resource = {
            "uri": f"{event}/invitees/{uuid.uuid4().hex}",
            "email": invitee["email"],
            "name": invitee.get("name"),
            "status": "active",
            "timezone": invitee["timezone"],
            "event": event,
            "cancel_url": "https://calendly.com/cancellations/x",
            "reschedule_url": "https://calendly.com/reschedulings/x",
            "scheduling_method": "instant_book",
        }
        self.bookings.append({"start_time": _stamp(start), **resource})
        return web.json_response({"resource": resource}, status=201)

    async def _token(self, request: web.Request) -> web.Response:
        refused = await self._scripted(request)
        if refused:
            return refused
        if request.headers.get("Authorization") != f"Bearer {PLATFORM_AUTH}":
            return web.json_response({"error": "unauthorized"}, status=401)
        token = self.connections.get(request.query.get("connection_id", ""))
        if token is None:
            return web.json_response({"error": "unknown connection"}, status=404)
        return web.json_response({"access_token": token, "token_type": "Bearer"})

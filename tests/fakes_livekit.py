"""Stand-ins for the outside world of a worker job, at its network boundary.

``FakeLiveKitServer`` serves the twirp endpoints the real ``livekit-api`` client calls
(``POST /twirp/livekit.<Service>/<Method>``, protobuf or JSON bodies). It decodes each request
into its protobuf message, checks the bearer JWT against the API key and secret, records the
call, and answers as the LiveKit server does: after a delay (a phone ringing), with a response
(empty, or the one scripted), or with a twirp error and its metadata (``sip_status_code``).
``ConfigEndpoint`` serves call configs by id, as ``AGENT_CONFIG_URL`` expects.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message
from livekit import api
from livekit.api.access_token import Claims
from livekit.protocol.sip import TransferSIPParticipantResponse

API_KEY = "APIfakeworkerkey"
API_SECRET = "fake-worker-secret-0123456789abcdef0123456789"

_METHODS: dict[tuple[str, str], tuple[type[Message], type[Message]]] = {
    ("RoomService", "DeleteRoom"): (api.DeleteRoomRequest, api.DeleteRoomResponse),
    ("SIP", "CreateSIPParticipant"): (api.CreateSIPParticipantRequest, api.SIPParticipantInfo),
    ("SIP", "TransferSIPParticipant"): (
        api.TransferSIPParticipantRequest,
        TransferSIPParticipantResponse,
    ),
}


@dataclass(frozen=True)
class TwirpCall:
    """A request the fake server received and accepted."""

    service: str
    method: str
    request: Message
    content_type: str
    claims: Claims


class FakeLiveKitServer:
    """The LiveKit server API, as far as a worker job uses it."""

    def __init__(
        self,
        *,
        errors: dict[str, tuple[int, str] | tuple[int, str, dict[str, str]]] | None = None,
        replies: dict[str, Message] | None = None,
        delays: dict[str, float] | None = None,
    ) -> None:
        self.errors = dict(errors or {})
        """Per method name, a twirp error to answer with: (HTTP status, twirp code), and its
        metadata (``sip_status_code``...) as LiveKit's SIP service sends it."""
        self.replies = dict(replies or {})
        """Per method name, the response to answer with (else an empty one)."""
        self.delays = dict(delays or {})
        """Per method name, seconds before the answer (a phone ringing)."""
        self.calls: list[TwirpCall] = []
        self.rejected: list[str] = []
        """Why requests were refused (no or bad token)."""
        self.app = web.Application()
        self.app.router.add_post("/twirp/livekit.{service}/{method}", self._handle)

    def requests(self, method: str) -> list[Any]:
        """The decoded requests of ``method`` (e.g. ``DeleteRoom``), in order."""
        return [call.request for call in self.calls if call.method == method]

    async def _handle(self, request: web.Request) -> web.Response:
        service, method = request.match_info["service"], request.match_info["method"]
        types = _METHODS.get((service, method))
        if types is None:
            return _error(404, "bad_route", f"no handler for {service}/{method}")
        claims = self._authorize(request.headers.get("Authorization", ""))
        if claims is None:
            return _error(401, "unauthenticated", "invalid authorization token")
        request_type, response_type = types
        body = await request.read()
        as_json = request.content_type == "application/json"
        message = request_type()
        if as_json:
            json_format.Parse(body, message)
        else:
            message.ParseFromString(body)
        self.calls.append(TwirpCall(service, method, message, request.content_type, claims))
        await asyncio.sleep(self.delays.get(method, 0.0))
        if method in self.errors:
            status, code, *meta = self.errors[method]
            return _error(status, code, f"{method} refused", meta[0] if meta else None)
        response = self.replies.get(method) or response_type()
        if as_json:
            return web.json_response(json_format.MessageToDict(response))
        return web.Response(body=response.SerializeToString(), content_type="application/protobuf")

    def _authorize(self, header: str) -> Claims | None:
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token:
            self.rejected.append("no bearer token")
            return None
        try:
            return api.TokenVerifier(API_KEY, API_SECRET).verify(token)
        except Exception as err:
            self.rejected.append(f"bad token: {type(err).__name__}")
            return None


def _error(
    status: int, code: str, message: str, meta: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {"code": code, "msg": message}
    if meta:
        body["meta"] = meta
    return web.json_response(body, status=status)


class ConfigEndpoint:
    """Serves ``GET /calls/{call_id}`` from a table of documents, or a fixed error status."""

    def __init__(self, documents: dict[str, Any], *, status: int = 200) -> None:
        self.documents = documents
        self.status = status
        self.requests: list[tuple[str, str | None]] = []
        """(call id, Authorization header) of each request."""
        self.app = web.Application()
        self.app.router.add_get("/calls/{call_id}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        call_id = request.match_info["call_id"]
        self.requests.append((call_id, request.headers.get("Authorization")))
        if self.status != 200:
            return web.Response(status=self.status, text="unavailable")
        if call_id not in self.documents:
            return web.Response(status=404, text="no such call")
        return web.json_response(self.documents[call_id])

"""Stand-ins for the outside world of a worker job, at its network boundary.

``FakeLiveKitServer`` serves the twirp endpoints the real ``livekit-api`` client calls
(``POST /twirp/livekit.<Service>/<Method>``, protobuf or JSON bodies). It decodes each request
into its protobuf message, checks the bearer JWT against the API key and secret, records the
call, and answers as the LiveKit server does: after a delay (a phone ringing), with a response
(empty, or the one scripted), or with a twirp error and its metadata (``sip_status_code``).
``FakeAgentDispatch`` is the LiveKit server as a worker process sees it: the agent WebSocket
(``/agent``) speaking the real worker protocol, and the twirp API on the same origin.
``ConfigEndpoint`` serves call configs by id, as ``AGENT_CONFIG_URL`` expects.
``ConnectedRoom`` is a real ``rtc.Room`` that acts connected without a media server: what
it publishes is kept (real local tracks, readable with ``rtc.AudioStream``), and room events
are emitted by the test.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal

from aiohttp import WSMsgType, web
from google.protobuf import json_format
from google.protobuf.message import Message
from livekit import api, rtc
from livekit.api.access_token import Claims
from livekit.protocol import agent, models
from livekit.protocol.sip import TransferSIPParticipantResponse

API_KEY = "APIfakeworkerkey"
API_SECRET = "fake-worker-secret-0123456789abcdef0123456789"

_METHODS: dict[tuple[str, str], tuple[type[Message], type[Message]]] = {
    ("RoomService", "CreateRoom"): (api.CreateRoomRequest, api.Room),
    ("RoomService", "DeleteRoom"): (api.DeleteRoomRequest, api.DeleteRoomResponse),
    ("RoomService", "RemoveParticipant"): (
        api.RoomParticipantIdentity,
        api.RemoveParticipantResponse,
    ),
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
    """Serves ``GET /calls/{call_id}`` from a table of documents, or a fixed error status.

    ``held``: requests get no answer until ``release()`` (a slow endpoint keeps a job busy for
    as long as a test needs).
    """

    def __init__(self, documents: dict[str, Any], *, status: int = 200, held: bool = False) -> None:
        self.documents = documents
        self.status = status
        self._open = asyncio.Event()
        if not held:
            self._open.set()
        self.requests: list[tuple[str, str | None]] = []
        """(call id, Authorization header) of each request."""
        self.requested = asyncio.Event()
        """Set at the first request."""
        self.app = web.Application()
        self.app.router.add_get("/calls/{call_id}", self._handle)

    def release(self) -> None:
        """Answer the held requests, and the next ones at once."""
        self._open.set()

    async def _handle(self, request: web.Request) -> web.Response:
        call_id = request.match_info["call_id"]
        self.requests.append((call_id, request.headers.get("Authorization")))
        self.requested.set()
        await self._open.wait()
        if self.status != 200:
            return web.Response(status=self.status, text="unavailable")
        if call_id not in self.documents:
            return web.Response(status=404, text="no such call")
        return web.json_response(self.documents[call_id])


RegisterMode = Literal["accept", "held", "refuse", "never"]
"""How ``FakeAgentDispatch`` answers a worker's registration: it accepts it, accepts it once
``release_registration()`` is called, closes the connection instead (a refusal), or never
answers."""


class FakeAgentDispatch:
    """LiveKit's agent dispatch, as a worker process sees it, on one loopback origin.

    ``GET /agent`` is the worker's WebSocket (``AgentServer._connection_task``): the bearer JWT
    is checked against ``API_KEY``/``API_SECRET`` (refused with HTTP 401 otherwise), and each
    binary frame is a real ``agent.WorkerMessage`` answered with ``agent.ServerMessage``. The
    twirp API of ``api`` (a ``FakeLiveKitServer``: DeleteRoom...) is served on the same origin,
    as a job's ``ctx.api`` expects.

    Serve ``app`` (e.g. with ``agent_runtime.replay.local_server.serve``), set ``url`` to its
    ``ws://127.0.0.1:<port>`` and point the worker's ``LIVEKIT_URL`` at it, then::

        await dispatch.registered.wait()
        answer = await dispatch.offer_job('{"call_id": "c1"}')   # assigned if available
        async with asyncio.timeout(60):
            await dispatch.wait_for(lambda: dispatch.job_statuses(answer.job_id))

    Everything the worker says is recorded, in order: ``registrations``, ``statuses``
    (``UpdateWorkerStatus``: status, load, job count), ``answers`` (``AvailabilityResponse``),
    ``job_updates`` (``UpdateJobStatus``), and ``rejected`` (why a connection was refused);
    and what it told the worker: ``terminated`` (job ids).
    One worker is served at a time: a new connection replaces the previous one.
    """

    def __init__(
        self,
        *,
        register: RegisterMode = "accept",
        api: FakeLiveKitServer | None = None,
    ) -> None:
        self.register_mode: RegisterMode = register
        """How registrations are answered; may be changed between connections."""
        self.api = api or FakeLiveKitServer()
        self.registrations: list[agent.RegisterWorkerRequest] = []
        self.statuses: list[agent.UpdateWorkerStatus] = []
        self.answers: list[agent.AvailabilityResponse] = []
        self.job_updates: list[agent.UpdateJobStatus] = []
        self.rejected: list[str] = []
        self.terminated: list[str] = []
        self.connections = 0
        """WebSocket connections accepted (a worker that retries opens several)."""
        self.registered = asyncio.Event()
        """Set once a registration has been accepted (cleared when that worker disconnects)."""
        self.url = ""
        """The origin the worker connects to (``ws://127.0.0.1:<port>``): set it once served;
        job assignments send it to the job as its room URL."""
        self._socket: web.WebSocketResponse | None = None
        self._registration_open = asyncio.Event()
        self._changed = asyncio.Condition()
        self._job_ids = itertools.count(1)
        self.app = web.Application()
        self.app.router.add_get("/agent", self._agent)
        self.app.router.add_post("/twirp/livekit.{service}/{method}", self.api._handle)

    def release_registration(self) -> None:
        """Accept the held registration (``register="held"``), and the next ones at once."""
        self._registration_open.set()

    def hold_registration(self) -> None:
        """Hold the next registrations (``register="held"``) until ``release_registration``."""
        self._registration_open.clear()

    async def disconnect(self) -> None:
        """Close the worker's connection, as a server restarting does."""
        if self._socket is not None:
            await self._socket.close()

    @property
    def last_status(self) -> agent.UpdateWorkerStatus | None:
        """The worker's latest ``UpdateWorkerStatus``."""
        return self.statuses[-1] if self.statuses else None

    def job_statuses(self, job_id: str) -> list[int]:
        """The ``agent.JobStatus`` values the worker reported for ``job_id``, in order."""
        return [update.status for update in self.job_updates if update.job_id == job_id]

    async def wait_for(self, condition: Callable[[], object]) -> None:
        """Wait until ``condition()`` is true, re-checked after each message from the worker
        (bound it with ``asyncio.timeout``)."""
        async with self._changed:
            await self._changed.wait_for(condition)

    async def offer_job(
        self, metadata: str, *, room: str = "call-room"
    ) -> agent.AvailabilityResponse:
        """Offer a job to the worker (``AvailabilityRequest``) and return its answer.

        When the worker says it is available, the ``JobAssignment`` follows (``url`` and a
        room-join token for the identity it chose), as LiveKit's dispatcher does.
        """
        if self._socket is None or not self.registered.is_set():
            raise RuntimeError("no registered worker to offer a job to")
        job = agent.Job(
            id=f"AJ_fake{next(self._job_ids)}",
            dispatch_id="AD_fake",
            type=agent.JobType.JT_ROOM,
            room=models.Room(sid=f"RM_{room}", name=room),
            metadata=metadata,
            agent_name=self.registrations[-1].agent_name,
        )
        socket = self._socket
        await socket.send_bytes(
            agent.ServerMessage(availability=agent.AvailabilityRequest(job=job)).SerializeToString()
        )
        await self.wait_for(lambda: self._answer(job.id) is not None)
        answer = self._answer(job.id)
        assert answer is not None
        if answer.available:
            token = (
                api.AccessToken(API_KEY, API_SECRET)
                .with_identity(answer.participant_identity or "agent")
                .with_kind("agent")
                .with_grants(api.VideoGrants(room_join=True, room=room, agent=True))
                .to_jwt()
            )
            assignment = agent.JobAssignment(job=job, url=self.url, token=token)
            await socket.send_bytes(agent.ServerMessage(assignment=assignment).SerializeToString())
        return answer

    async def terminate(self, job_id: str) -> None:
        """Ask the worker to end a job (``JobTermination``)."""
        if self._socket is None:
            raise RuntimeError("no worker connected")
        message = agent.ServerMessage(termination=agent.JobTermination(job_id=job_id))
        await self._socket.send_bytes(message.SerializeToString())
        self.terminated.append(job_id)

    def _answer(self, job_id: str) -> agent.AvailabilityResponse | None:
        return next((answer for answer in self.answers if answer.job_id == job_id), None)

    async def _agent(self, request: web.Request) -> web.StreamResponse:
        if self._authorize(request.headers.get("Authorization", "")) is None:
            return _error(401, "unauthenticated", "invalid authorization token")
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.connections += 1
        self._socket = socket
        answering: set[asyncio.Task[None]] = set()
        try:
            await self._serve(socket, answering)
        finally:
            for task in answering:
                task.cancel()
            await asyncio.gather(*answering, return_exceptions=True)
            if self._socket is socket:
                self._socket = None
                self.registered.clear()
            await self._notify()
        return socket

    async def _serve(
        self, socket: web.WebSocketResponse, answering: set[asyncio.Task[None]]
    ) -> None:
        """Read the worker's messages; the registration is answered aside (``answering``), so
        that the connection keeps answering pings while a registration is held."""
        async for frame in socket:
            if frame.type != WSMsgType.BINARY:
                continue
            message = agent.WorkerMessage.FromString(frame.data)
            kind = message.WhichOneof("message")
            if kind == "register" and self.register_mode == "refuse":
                self.registrations.append(message.register)  # refused at once, with its record
                self.rejected.append("registration refused")
                await socket.close()
            elif kind == "register":
                self.registrations.append(message.register)
                answering.add(asyncio.create_task(self._register(socket)))
            elif kind == "update_worker":
                self.statuses.append(message.update_worker)
            elif kind == "availability":
                self.answers.append(message.availability)
            elif kind == "update_job":
                self.job_updates.append(message.update_job)
            elif kind == "ping":
                pong = agent.WorkerPong(last_timestamp=message.ping.timestamp)
                await socket.send_bytes(agent.ServerMessage(pong=pong).SerializeToString())
            await self._notify()

    async def _register(self, socket: web.WebSocketResponse) -> None:
        """Answer a registration as ``register_mode`` says."""
        if self.register_mode == "held":
            await self._registration_open.wait()
        if self.register_mode in ("accept", "held"):
            response = agent.RegisterWorkerResponse(
                worker_id=f"AW_fake{self.connections}",
                server_info=models.ServerInfo(edition=models.ServerInfo.Standard, version="fake"),
            )
            await socket.send_bytes(agent.ServerMessage(register=response).SerializeToString())
            self.registered.set()
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _authorize(self, header: str) -> Claims | None:
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token:
            self.rejected.append("no bearer token")
            return None
        try:
            claims = api.TokenVerifier(API_KEY, API_SECRET).verify(token)
        except Exception as err:
            self.rejected.append(f"bad token: {type(err).__name__}")
            return None
        if not claims.video or not claims.video.agent:
            self.rejected.append("token without the agent grant")
            return None
        return claims


class PublishingParticipant:
    """The local participant of a ``ConnectedRoom``: keeps what it publishes."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.published: dict[str, rtc.LocalTrack] = {}
        """Track sid -> the published track, while published."""
        self.unpublished: list[str] = []
        """Names of the tracks unpublished, in order."""

    async def publish_track(
        self, track: rtc.LocalTrack, options: rtc.TrackPublishOptions | None = None
    ) -> Any:
        """Publish ``track``: returns a publication with its sid."""
        sid = f"TR_{track.name}_{len(self.published) + len(self.unpublished)}"
        self.published[sid] = track
        return SimpleNamespace(sid=sid, track=track)

    async def unpublish_track(self, sid: str) -> None:
        """Unpublish the track ``sid``."""
        track = self.published.pop(sid)
        self.unpublished.append(track.name)

    def track(self, name: str) -> rtc.LocalTrack:
        """The published track named ``name``."""
        (track,) = [t for t in self.published.values() if t.name == name]
        return track

    @property
    def track_names(self) -> list[str]:
        """Names of the tracks published now."""
        return sorted(track.name for track in self.published.values())


class ConnectedRoom(rtc.Room):
    """An ``rtc.Room`` that acts connected, with no media server behind it."""

    def __init__(self, name: str, identity: str = "agent") -> None:
        super().__init__()
        self.room_name = name
        self.publisher = PublishingParticipant(identity)
        self.disconnects = 0

    def add_caller(self, identity: str, track: rtc.Track) -> None:
        """``identity`` is in the room, their microphone ``track`` already subscribed."""
        publication = SimpleNamespace(
            sid=f"pub_{identity}", source=rtc.TrackSource.SOURCE_MICROPHONE, track=track
        )
        participant = SimpleNamespace(
            identity=identity, track_publications={publication.sid: publication}
        )
        self._remote_participants[identity] = participant  # type: ignore[assignment]

    def isconnected(self) -> bool:
        """Connected until ``disconnect``."""
        return self.disconnects == 0

    @property
    def local_participant(self) -> Any:
        """The participant that keeps what it publishes."""
        return self.publisher

    async def disconnect(self, *, reason: int = rtc.DisconnectReason.CLIENT_INITIATED) -> None:
        """Leave the room: ``disconnected`` is emitted, as the SDK does."""
        self.disconnects += 1
        if self.disconnects == 1:
            self.emit("disconnected", reason)


class RoomJoiner:
    """A ``RoomConnector`` that hands out ``ConnectedRoom``s and keeps them.

    ``server``: the fake API server, whose requests so far are noted at each join; ``delay``:
    seconds a join takes (a slow media server); ``listener_after``: seconds after the join at
    which someone subscribes to the agent's track (``local_track_subscribed``; None: never).
    """

    def __init__(
        self,
        server: FakeLiveKitServer,
        *,
        fail: Exception | None = None,
        delay: float = 0.0,
        listener_after: float | None = 0.5,
    ) -> None:
        self._server = server
        self._fail = fail
        self._delay = delay
        self._listener_after = listener_after
        self.rooms: list[ConnectedRoom] = []
        self.requests_before_join: list[list[str]] = []
        """For each join, the API methods called before it."""

    async def connect(self, room_name: str) -> rtc.Room:
        """Join ``room_name`` (or fail as told)."""
        self.requests_before_join.append([call.method for call in self._server.calls])
        await asyncio.sleep(self._delay)
        if self._fail is not None:
            raise self._fail
        room = ConnectedRoom(room_name)
        self.rooms.append(room)
        if self._listener_after is not None:
            loop = asyncio.get_running_loop()
            loop.call_later(self._listener_after, room.emit, "local_track_subscribed", None)
        return room

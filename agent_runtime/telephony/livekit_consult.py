"""Consultation legs on LiveKit: a warm transfer's supervisor, out of the caller's ear.

Self-hosted LiveKit has no ``MoveParticipant``, so the dialled person never joins the caller's
room: each consultation gets a room of its own, ``<call room>-consult-<n>``.

1. ``CreateRoom`` (short empty and departure timeouts: a room left behind by a dead worker goes
   away on its own), then the agent joins it (``RoomConnector``: its own token, minted with the
   worker's key) and publishes its voice there before anyone answers; once answered, ``consult``
   returns when the dialled person hears that voice (``LISTENER_TIMEOUT`` at most), so no
   first word is lost either way.
2. ``CreateSIPParticipant`` on the outbound trunk, from the call's number, with the ringing
   timeout, waiting until answered. A call not answered is a ``DialFailed`` whose
   ``dial_error`` comes from the SIP status (``dial_errors``). The caller hanging up before
   the answer ends the dialling (``TelephonyError``).
3. The leg's media is the room media of the dialled participant; its keys are the room's
   ``sip_dtmf_received`` events; it has hung up when the participant leaves or the room goes.
4. Hanging up, on every path (declined, not answered, failed, cancelled, the call ending):
   ``RemoveParticipant`` (the SIP leg, ringing or answered), ``DeleteRoom``, then the agent's
   media and connection. Idempotent; a second caller waits for the first hang-up to finish;
   a request the server refuses is logged, never raised (the room's timeouts are the backstop).

``connect`` bridges the leg to the caller (``media.bridge.AudioBridge``); the leg owns the
bridge and closes it when it hangs up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from livekit import api, rtc

from ..errors import TelephonyError
from ..log import logger
from ..media.bridge import AudioBridge
from ..media.room import RoomMedia
from .livekit import delete_room, place_call, telephony_error
from .port import ConsultationLeg, KeyListener

CONSULTED_IDENTITY = "consulted"
"""The dialled person's participant identity in the consultation room."""
EMPTY_TIMEOUT = 60
"""Seconds the consultation room lasts if nobody joins it."""
DEPARTURE_TIMEOUT = 5
"""Seconds the consultation room lasts once the last participant has left."""
LISTENER_TIMEOUT = 2.0
"""Seconds ``consult`` waits, once answered, for the dialled person to subscribe to the
agent's voice (so its first word reaches them) before it returns anyway."""


class RoomConnector(Protocol):
    """Joins a room as the agent: the seam between the leg and the LiveKit media server."""

    async def connect(self, room_name: str) -> rtc.Room:
        """The agent's connected ``rtc.Room`` of ``room_name``; the caller disconnects it."""
        ...


AGENT_IDENTITY = "agent"
"""The agent's identity in a consultation room."""
_SERVER_VARIABLES = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")


class LiveKitRoomConnector:
    """Joins rooms of the worker's LiveKit server, with a token minted from its API key.

    The server and the key are read when a room is joined, from the variables ``ctx.api``
    reads too (``LIVEKIT_URL``, ``LIVEKIT_API_KEY``, ``LIVEKIT_API_SECRET``).
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def _server(self) -> tuple[str, str, str]:
        values = [self._env.get(name, "").strip() for name in _SERVER_VARIABLES]
        missing = [name for name, value in zip(_SERVER_VARIABLES, values, strict=True) if not value]
        if missing:
            raise TelephonyError(f"cannot join a consultation room: {', '.join(missing)} not set")
        url, key, secret = values
        return _websocket_url(url), key, secret

    def token(self, room_name: str) -> str:
        """A token to join ``room_name`` as the agent, publish and subscribe."""
        _, key, secret = self._server()
        grants = api.VideoGrants(
            room_join=True, room=room_name, can_publish=True, can_subscribe=True
        )
        return (
            api.AccessToken(key, secret)
            .with_identity(AGENT_IDENTITY)
            .with_kind("agent")
            .with_grants(grants)
            .to_jwt()
        )

    async def connect(self, room_name: str) -> rtc.Room:
        """Join ``room_name``, subscribed to every audio track."""
        url, _, _ = self._server()
        room = rtc.Room()
        try:
            options = rtc.RoomOptions(auto_subscribe=True)
            await room.connect(url, self.token(room_name), options)
        except BaseException:
            await room.disconnect()
            raise
        return room


def _websocket_url(url: str) -> str:
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit(parts._replace(scheme=scheme))


@dataclass(frozen=True)
class ConsultDialing:
    """How a call dials its consultations: which trunk, from which number."""

    trunk_id: str
    caller_id: str | None
    """The number the dialled person sees; None: the trunk's default number."""


class LiveKitConsultation:
    """One consultation leg (a ``ConsultationLeg``): its room, the dialled person, the agent."""

    def __init__(self, lkapi: api.LiveKitAPI, room_name: str) -> None:
        self._api = lkapi
        self.room_name = room_name
        self.identity = CONSULTED_IDENTITY
        self._room: rtc.Room | None = None
        self._media: RoomMedia | None = None
        self._answered_at: float | None = None
        self._listeners: list[KeyListener] = []
        self._bridge: AudioBridge | None = None
        self._opening: asyncio.Task[None] | None = None
        self._hanging_up: asyncio.Task[None] | None = None
        self._gone = asyncio.Event()
        self._listening = asyncio.Event()

    @property
    def media(self) -> RoomMedia:
        """The dialled person's voice in, what the agent says to them out."""
        if self._media is None:
            raise TelephonyError("the consultation leg has no media (not dialled)")
        return self._media

    @property
    def answered_at(self) -> float:
        """Wall time at which the dialled person answered."""
        if self._answered_at is None:
            raise TelephonyError("the consultation leg was not answered")
        return self._answered_at

    @property
    def room(self) -> rtc.Room:
        """The agent's connection to the consultation room."""
        if self._room is None:
            raise TelephonyError("the consultation leg is not connected")
        return self._room

    @property
    def hung_up(self) -> bool:
        """Whether the leg has been hung up (or is being)."""
        return self._hanging_up is not None

    def on_keys(self, listener: KeyListener) -> None:
        """Call ``listener`` with each key the dialled person presses."""
        self._listeners.append(listener)

    async def wait_for_hangup(self) -> None:
        """Return when the dialled person has left, the room has gone, or the leg hung up."""
        await self._gone.wait()

    async def dial(
        self,
        connector: RoomConnector,
        dialing: ConsultDialing,
        to: str,
        *,
        ring_timeout: float,
        caller_gone: asyncio.Event,
    ) -> None:
        """Open the room, join it, and dial ``to`` into it until answered (see the module).

        ``DialFailed`` when not answered; ``TelephonyError`` when the room could not be opened,
        or the caller hung up (or the leg was hung up) before the answer.
        """
        opening = asyncio.create_task(
            self._open(connector, dialing, to, ring_timeout), name="consult-open"
        )
        self._opening = opening
        caller_left = asyncio.create_task(caller_gone.wait(), name="consult-caller-gone")
        try:
            await asyncio.wait({opening, caller_left}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            caller_left.cancel()
            if not opening.done():
                opening.cancel()
            await asyncio.gather(opening, caller_left, return_exceptions=True)
        if opening.cancelled():
            if caller_gone.is_set():
                raise TelephonyError("the caller hung up before the consultation leg answered")
            raise TelephonyError("the consultation leg was hung up before it answered")
        opening.result()

    async def _open(
        self, connector: RoomConnector, dialing: ConsultDialing, to: str, ring_timeout: float
    ) -> None:
        request = api.CreateRoomRequest(
            name=self.room_name, empty_timeout=EMPTY_TIMEOUT, departure_timeout=DEPARTURE_TIMEOUT
        )
        try:
            await self._api.room.create_room(request)
        except api.TwirpError as err:
            raise telephony_error(err, "creating the consultation room") from None
        except (TimeoutError, aiohttp.ClientError) as err:
            raise TelephonyError(
                f"creating the consultation room failed: {type(err).__name__}"
            ) from None
        try:
            self._room = room = await connector.connect(self.room_name)
            room.on("sip_dtmf_received", self._on_dtmf)
            room.on("participant_disconnected", self._on_participant_disconnected)
            room.on("disconnected", self._on_disconnected)
            room.on("local_track_subscribed", self._on_local_track_subscribed)
            self._media = await RoomMedia.open(room, self.identity, wait_for_subscriber=False)
        except Exception as err:  # the native client's errors: any failure is the leg's
            raise TelephonyError(
                f"joining the consultation room failed: {type(err).__name__}"
            ) from None
        dial = self._dial_request(dialing, to, ring_timeout)
        info = await place_call(self._api, dial, "the consultation call")
        self._answered_at = time.time()
        logger.debug("consultation leg answered (call id %s)", info.sip_call_id or "-")
        try:
            await asyncio.wait_for(self._listening.wait(), LISTENER_TIMEOUT)
        except TimeoutError:
            logger.warning("the consulted person did not subscribe to the agent's voice")

    def _dial_request(
        self, dialing: ConsultDialing, to: str, ring_timeout: float
    ) -> api.CreateSIPParticipantRequest:
        request = api.CreateSIPParticipantRequest(
            sip_trunk_id=dialing.trunk_id,
            sip_call_to=to,
            sip_number=dialing.caller_id or "",
            room_name=self.room_name,
            participant_identity=self.identity,
            participant_name="consulted",
            wait_until_answered=True,
            play_dialtone=False,
        )
        request.ringing_timeout.FromNanoseconds(int(ring_timeout * 1e9))
        return request

    async def bridge_with(self, caller_room: rtc.Room, caller_identity: str) -> None:
        """Relay audio both ways between the caller and the dialled person."""
        if self.hung_up or self._gone.is_set():
            raise TelephonyError("the consultation leg has hung up")
        if self._bridge is not None:
            raise TelephonyError("the consultation leg is already connected")
        self._bridge = await AudioBridge.open(
            caller_room=caller_room,
            caller_identity=caller_identity,
            consult_room=self.room,
            consulted_identity=self.identity,
        )

    async def hang_up(self) -> None:
        """End this leg (idempotent; every caller waits until it is done).

        Never raises: a request the server refuses is logged, and the room's timeouts end
        what is left.
        """
        if self._hanging_up is None:
            self._hanging_up = asyncio.create_task(self._release(), name="consult-hang-up")
        await asyncio.shield(self._hanging_up)

    async def _release(self) -> None:
        self._gone.set()
        opening = self._opening
        if opening is not None and not opening.done():
            opening.cancel()
            await asyncio.gather(opening, return_exceptions=True)
        failures: list[str] = []
        try:
            for step, action in (
                (self._remove_participant, "hanging up the consultation leg"),
                (self._delete_room, "deleting the consultation room"),
            ):
                try:
                    await step()
                except TelephonyError as err:
                    failures.append(str(err))
                except (TimeoutError, aiohttp.ClientError) as err:
                    failures.append(f"{action} failed: {type(err).__name__}")
        finally:
            await self._close_local()
        if failures:
            logger.warning("the consultation leg was not fully released: %s", "; ".join(failures))

    async def _remove_participant(self) -> None:
        request = api.RoomParticipantIdentity(room=self.room_name, identity=self.identity)
        try:
            await self._api.room.remove_participant(request)
        except api.TwirpError as err:
            if err.code != api.TwirpErrorCode.NOT_FOUND:
                raise telephony_error(err, "hanging up the consultation leg") from None

    async def _delete_room(self) -> None:
        await delete_room(self._api, self.room_name)

    async def _close_local(self) -> None:
        try:
            if self._bridge is not None:
                await self._bridge.aclose()
        finally:
            if self._media is not None:
                await self._media.aclose()
            room = self._room
            if room is not None:
                room.off("sip_dtmf_received", self._on_dtmf)
                room.off("participant_disconnected", self._on_participant_disconnected)
                room.off("disconnected", self._on_disconnected)
                room.off("local_track_subscribed", self._on_local_track_subscribed)
                await room.disconnect()

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self.identity:
            self._gone.set()

    def _on_disconnected(self, reason: object) -> None:
        self._gone.set()

    def _on_local_track_subscribed(self, track: rtc.Track) -> None:
        self._listening.set()

    def _on_dtmf(self, event: rtc.SipDTMF) -> None:
        participant = event.participant
        if participant is None or participant.identity != self.identity:
            return
        for listener in self._listeners:
            listener(event.digit)


class LiveKitConsultations:
    """The consultation legs of one call: opened one at a time, all hung up with the call."""

    def __init__(
        self,
        lkapi: api.LiveKitAPI,
        *,
        call_room: str,
        dialing: ConsultDialing,
        connector: RoomConnector,
    ) -> None:
        self._api = lkapi
        self._call_room = call_room
        self._dialing = dialing
        self._connector = connector
        self._opened = 0
        self._legs: list[LiveKitConsultation] = []

    async def open(
        self, to: str, *, ring_timeout: float, caller_gone: asyncio.Event
    ) -> LiveKitConsultation:
        """Dial ``to`` into a new consultation room; the leg once answered.

        ``DialFailed`` when not answered, ``TelephonyError`` when it could not be dialled or the
        caller hung up first; the leg is hung up on every failure.
        """
        if caller_gone.is_set():
            raise TelephonyError("the caller has hung up: no consultation leg")
        self._opened += 1
        leg = LiveKitConsultation(self._api, f"{self._call_room}-consult-{self._opened}")
        self._legs.append(leg)
        try:
            await leg.dial(
                self._connector,
                self._dialing,
                to,
                ring_timeout=ring_timeout,
                caller_gone=caller_gone,
            )
        except BaseException:
            await leg.hang_up()
            raise
        return leg

    async def connect(
        self, leg: ConsultationLeg, caller_room: rtc.Room, caller_identity: str
    ) -> None:
        """Bridge ``leg`` (one of these legs) to the caller of ``caller_room``."""
        opened = next((own for own in self._legs if own is leg), None)
        if opened is None:
            raise TelephonyError("not a consultation leg of this call")
        await opened.bridge_with(caller_room, caller_identity)

    async def close(self) -> None:
        """Hang up every leg still open (the call is ending)."""
        for leg in self._legs:
            await leg.hang_up()
        self._legs.clear()

"""The ``TelephonyPort`` of a call whose phone side is a SIP participant in a LiveKit room.

- Answer: an inbound call was answered before the job ran; an outbound call is dialled here
  with ``CreateSIPParticipant`` on the outbound trunk, waiting until it is answered (the agent is
  in the room first, so no first word is lost). A call not answered is a ``DialFailed`` whose
  ``dial_error`` comes from the SIP status LiveKit returns (``dial_errors``).
- Hang-up: the caller has hung up when their SIP participant leaves the room or the room goes
  away. Hanging up deletes the room, which disconnects everyone, the SIP leg included.
- Keys: sent with the local participant's ``publish_dtmf``, paced; received from the room's
  ``sip_dtmf_received`` events of the caller's participant.
- Transfer: ``TransferSIPParticipant`` (a SIP REFER to ``tel:<number>``, dial tone on); its
  outcome is checked, a refusal is a ``TransferFailed``.
- Warm transfer: ``consult`` dials a consultation leg into a room of its own and ``connect``
  bridges the audio of the two rooms (``livekit_consult``); hanging up ends every leg.

Errors of the LiveKit client (``TwirpError``) become ``TelephonyError``s here, with the SIP
status when the server gives one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import aiohttp
from livekit import api, rtc
from livekit.protocol.sip import SIPTransferReason, SIPTransferStatus

from ..config.attempt import DialError
from ..errors import DialFailed, TelephonyError, TransferFailed
from ..log import logger
from .dial_errors import dial_error_of, refusal_words
from .dtmf import KEY_GAP, PAUSE, PAUSE_SECONDS, check_keys, key_code
from .port import ConsultationLeg, KeyListener, SipParticipant

if TYPE_CHECKING:
    from .livekit_consult import LiveKitConsultations

SIP_CALL_STATUS = "sip.callStatus"
"""Participant attribute: ``dialing``, ``ringing``, ``active``, ``hangup``..."""


def sip_participant(participant: rtc.Participant) -> SipParticipant:
    """The ``SipParticipant`` a room's SIP participant describes in its attributes."""
    attributes = participant.attributes
    return SipParticipant(
        identity=participant.identity,
        trunk_phone_number=attributes.get("sip.trunkPhoneNumber") or None,
    )


def _sip_status(err: api.TwirpError) -> tuple[int | None, str | None]:
    try:
        status: int | None = int(err.metadata.get("sip_status_code", ""))
    except ValueError:
        status = None
    return status, err.metadata.get("sip_status") or None


def telephony_error(err: api.TwirpError, action: str) -> TelephonyError:
    """A LiveKit server error as a ``TelephonyError`` (SIP status from its metadata)."""
    status, reason = _sip_status(err)
    return TelephonyError(
        f"{action} failed: {err.code} (HTTP {err.status})",
        sip_status=status,
        sip_reason=reason,
    )


async def place_call(
    lkapi: api.LiveKitAPI, request: api.CreateSIPParticipantRequest, what: str
) -> api.SIPParticipantInfo:
    """Dial with ``request`` (waiting until answered); ``DialFailed`` when not answered."""
    try:
        return await lkapi.sip.create_sip_participant(request)
    except api.TwirpError as err:
        raise dial_failure(err) from None
    except (TimeoutError, aiohttp.ClientError) as err:
        kind: DialError = (
            "no_answer" if isinstance(err, TimeoutError) else "temporarily_unavailable"
        )
        raise DialFailed(f"{what} was not placed: {type(err).__name__}", dial_error=kind) from None


def dial_failure(err: api.TwirpError) -> DialFailed:
    """Why ``CreateSIPParticipant`` did not end in an answer."""
    status, reason = _sip_status(err)
    kind: DialError
    if status is not None:
        kind = dial_error_of(status, reason)
    elif err.code == api.TwirpErrorCode.DEADLINE_EXCEEDED:
        kind = "no_answer"
    elif err.code == api.TwirpErrorCode.RESOURCE_EXHAUSTED:
        kind = "too_many_calls"
    elif err.code == api.TwirpErrorCode.UNAVAILABLE or err.status >= 500:
        kind = "temporarily_unavailable"
    else:
        kind = dial_error_of(None, err.message)
    return DialFailed(
        f"the call was not answered: {status or err.code}",
        dial_error=kind,
        sip_status=status,
        sip_reason=reason,
    )


async def delete_room(lkapi: api.LiveKitAPI, room_name: str) -> None:
    """Delete ``room_name``; a room that is already gone is not an error.

    Raises ``TelephonyError`` when the server refuses.
    """
    try:
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=room_name))
    except api.TwirpError as err:
        if err.code == api.TwirpErrorCode.NOT_FOUND:
            logger.debug("the room was already deleted")
            return
        raise telephony_error(err, "deleting the room") from None


class CallerPresence:
    """Notices when the caller leaves: their participant disconnects, or the room does.

    ``joined``: the caller is in the room already (inbound); an outbound callee joins later.
    """

    def __init__(self, room: rtc.Room, caller_identity: str, *, joined: bool = True) -> None:
        self._room = room
        self._caller = caller_identity
        self.gone = asyncio.Event()
        """Set once the caller has left."""
        room.on("participant_disconnected", self._on_participant_disconnected)
        room.on("disconnected", self._on_disconnected)
        if not room.isconnected() or (joined and caller_identity not in room.remote_participants):
            self.gone.set()

    def close(self) -> None:
        """Stop watching the room (idempotent)."""
        self._room.off("participant_disconnected", self._on_participant_disconnected)
        self._room.off("disconnected", self._on_disconnected)

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self._caller:
            self.gone.set()

    def _on_disconnected(self, reason: object) -> None:
        self.gone.set()


@dataclass(frozen=True)
class OutboundDial:
    """An outbound call to place: where, from which number, on which trunk."""

    trunk_id: str
    to: str
    """The E.164 number to call."""
    from_number: str | None
    """The caller id; None: the trunk's default number."""
    identity: str
    """The callee's participant identity in the room."""
    ringing_timeout: float


class DtmfPublisher(Protocol):
    """What sends keys into the room: the room's local participant."""

    async def publish_dtmf(self, *, code: int, digit: str) -> None:
        """Send one key."""
        ...


class LiveKitTelephony:
    """Call control of a SIP participant in a LiveKit room."""

    def __init__(
        self,
        lkapi: api.LiveKitAPI,
        *,
        room: rtc.Room,
        room_name: str,
        participant: SipParticipant,
        caller_gone: asyncio.Event,
        answered_at: float | None = None,
        dial: OutboundDial | None = None,
        dtmf: DtmfPublisher | None = None,
        consultations: LiveKitConsultations | None = None,
    ) -> None:
        """An inbound call passes ``answered_at``; an outbound call passes its ``dial``.

        ``consultations``: how this call dials consultation legs (warm transfer); without,
        ``consult`` refuses.
        """
        self._api = lkapi
        self._room = room
        self.room_name = room_name
        self._participant = participant
        self._caller_gone = caller_gone
        self._answered_at = answered_at
        self._dial = dial
        self._dtmf = dtmf
        self._consultations = consultations
        self._listeners: list[KeyListener] = []
        self._sent_listeners: list[KeyListener] = []
        self._hung_up = False
        room.on("sip_dtmf_received", self._on_dtmf)

    @property
    def participant(self) -> SipParticipant:
        """The caller's SIP participant."""
        return self._participant

    async def wait_for_answer(self, *, ringing: Callable[[], None]) -> float:
        """When the call was answered; an outbound call is dialled first."""
        if self._answered_at is not None:
            return self._answered_at
        if self._dial is None:
            raise TelephonyError("an inbound call must be answered before it runs")
        self._answered_at = await self._place(self._dial, ringing)
        return self._answered_at

    async def _place(self, dial: OutboundDial, ringing: Callable[[], None]) -> float:
        request = api.CreateSIPParticipantRequest(
            sip_trunk_id=dial.trunk_id,
            sip_call_to=dial.to,
            sip_number=dial.from_number or "",
            room_name=self.room_name,
            participant_identity=dial.identity,
            participant_name="callee",
            wait_until_answered=True,
            play_dialtone=False,
        )
        request.ringing_timeout.seconds = int(dial.ringing_timeout)
        ringing()
        await place_call(self._api, request, "the call")
        self._participant = SipParticipant(
            identity=dial.identity,
            trunk_phone_number=dial.from_number,
        )
        return time.time()

    async def wait_for_hangup(self) -> None:
        """Return when the caller has hung up."""
        await self._caller_gone.wait()

    async def hang_up(self) -> None:
        """End every leg: the consultation legs, then the room (first call only)."""
        if self._hung_up:
            return
        self._hung_up = True
        self._room.off("sip_dtmf_received", self._on_dtmf)
        try:
            if self._consultations is not None:
                await self._consultations.close()
        finally:
            await delete_room(self._api, self.room_name)

    async def consult(self, to: str, *, ring_timeout: float) -> ConsultationLeg:
        """Dial ``to`` into a consultation room of its own; the leg once answered."""
        if self._consultations is None:
            raise TransferFailed(
                "this call has no outbound trunk for a consultation leg",
                reason="the phone network did not allow it",
            )
        if self._hung_up:
            raise TelephonyError("the call has ended: no consultation leg")
        return await self._consultations.open(
            to, ring_timeout=ring_timeout, caller_gone=self._caller_gone
        )

    async def connect(self, leg: ConsultationLeg) -> None:
        """Bridge the caller's audio and ``leg``'s both ways, until either hangs up."""
        if self._consultations is None:
            raise TelephonyError("this call has no consultation legs")
        if self._hung_up or self._caller_gone.is_set():
            raise TelephonyError("the caller has hung up")
        await self._consultations.connect(leg, self._room, self._participant.identity)

    async def send_keys(self, keys: str) -> None:
        """Send ``keys`` into the room, ``KEY_GAP`` apart (``w`` waits half a second)."""
        checked = check_keys(keys)
        publisher = self._dtmf or self._room.local_participant
        for index, key in enumerate(checked):
            if key == PAUSE:
                await asyncio.sleep(PAUSE_SECONDS)
                continue
            if index:
                await asyncio.sleep(KEY_GAP)
            try:
                await publisher.publish_dtmf(code=key_code(key), digit=key)
            except Exception as err:  # the room's native client: any failure is the line's
                raise TelephonyError(f"sending a key failed: {type(err).__name__}") from None
        for listener in self._sent_listeners:
            listener(checked)

    def on_keys(self, listener: KeyListener) -> None:
        """Call ``listener`` with each key the caller presses."""
        self._listeners.append(listener)

    def on_keys_sent(self, listener: KeyListener) -> None:
        """Call ``listener`` with each string of keys sent."""
        self._sent_listeners.append(listener)

    def _on_dtmf(self, event: rtc.SipDTMF) -> None:
        participant = event.participant
        if participant is None or participant.identity != self._participant.identity:
            return
        for listener in self._listeners:
            listener(event.digit)

    async def transfer(self, to: str) -> None:
        """REFER the caller to ``tel:<to>``; ``TransferFailed`` unless it succeeded."""
        request = api.TransferSIPParticipantRequest(
            participant_identity=self._participant.identity,
            room_name=self.room_name,
            transfer_to=f"tel:{to}",
            play_dialtone=True,
        )
        try:
            answer = await self._api.sip.transfer_sip_participant(request)
        except api.TwirpError as err:
            status, reason = _sip_status(err)
            raise TransferFailed(
                f"the transfer failed: {status or err.code}",
                reason=refusal_words(status, reason or err.metadata.get("sip_transfer_reason")),
                sip_status=status,
                sip_reason=reason,
            ) from None
        except (TimeoutError, aiohttp.ClientError) as err:
            raise TransferFailed(
                f"the transfer failed: {type(err).__name__}", reason="nobody answered"
            ) from None
        if answer.status != SIPTransferStatus.STS_TRANSFER_SUCCESSFUL:
            code = int(answer.sip_status.code) or None
            why = SIPTransferReason.Name(answer.reason)
            raise TransferFailed(
                f"the transfer did not complete: {code or why}",
                reason=refusal_words(code, answer.sip_status.status or why),
                sip_status=code,
                sip_reason=answer.sip_status.status or None,
            )

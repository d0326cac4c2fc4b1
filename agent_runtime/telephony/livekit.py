"""The ``TelephonyPort`` of a call whose phone side is a SIP participant in a LiveKit room.

The caller has hung up when their SIP participant leaves the room or the room goes away.
Hanging up deletes the room through the LiveKit server API, which disconnects everyone, the SIP
leg included (``JobContext.delete_room`` does nothing in a fake job, so it is not used). The
adapter holds what call control needs: the room, its name, the participant and the server API.
Errors of the LiveKit client (``TwirpError``) become ``TelephonyError`` here, with the SIP
status when the server gives one.
"""

from __future__ import annotations

import asyncio

from livekit import api, rtc

from ..errors import TelephonyError
from ..log import logger
from .port import SipParticipant

SIP_CALL_STATUS = "sip.callStatus"
"""Participant attribute: ``dialing``, ``ringing``, ``active``, ``hangup``..."""


def sip_participant(participant: rtc.RemoteParticipant) -> SipParticipant:
    """The ``SipParticipant`` a room's SIP participant describes in its attributes."""
    attributes = participant.attributes
    return SipParticipant(
        identity=participant.identity,
        phone_number=attributes.get("sip.phoneNumber") or None,
        trunk_phone_number=attributes.get("sip.trunkPhoneNumber") or None,
        call_id=attributes.get("sip.callID") or None,
    )


def telephony_error(err: api.TwirpError, action: str) -> TelephonyError:
    """A LiveKit server error as a ``TelephonyError`` (SIP status from its metadata)."""
    metadata = err.metadata
    try:
        sip_status: int | None = int(metadata.get("sip_status_code", ""))
    except ValueError:
        sip_status = None
    return TelephonyError(
        f"{action} failed: {err.code} (HTTP {err.status})",
        sip_status=sip_status,
        sip_reason=metadata.get("sip_status") or None,
        retryable=err.status >= 500 or err.code == api.TwirpErrorCode.UNAVAILABLE,
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
    """Notices when the caller leaves: their participant disconnects, or the room does."""

    def __init__(self, room: rtc.Room, caller_identity: str) -> None:
        self._room = room
        self._caller = caller_identity
        self.gone = asyncio.Event()
        """Set once the caller has left."""
        room.on("participant_disconnected", self._on_participant_disconnected)
        room.on("disconnected", self._on_disconnected)
        if not room.isconnected() or caller_identity not in room.remote_participants:
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


class LiveKitTelephony:
    """Call control of a SIP participant in a LiveKit room."""

    def __init__(
        self,
        lkapi: api.LiveKitAPI,
        *,
        room: rtc.Room,
        room_name: str,
        participant: SipParticipant | None,
        caller_gone: asyncio.Event,
        answered_at: float,
    ) -> None:
        self._api = lkapi
        self.room = room
        """The call's room (its local participant publishes what the agent sends)."""
        self.room_name = room_name
        self._participant = participant
        self._caller_gone = caller_gone
        self._answered_at = answered_at
        self._hung_up = False

    @property
    def participant(self) -> SipParticipant | None:
        """The caller's SIP participant."""
        return self._participant

    async def wait_for_answer(self) -> float:
        """When the SIP participant's call became active."""
        return self._answered_at

    async def wait_for_hangup(self) -> None:
        """Return when the caller has hung up."""
        await self._caller_gone.wait()

    async def hang_up(self) -> None:
        """Delete the room (only the first call sends the request)."""
        if self._hung_up:
            return
        self._hung_up = True
        await delete_room(self._api, self.room_name)

"""The ``TelephonyPort`` of a call in a LiveKit room.

The caller has hung up when their SIP participant leaves the room or the room goes away.
Hanging up deletes the room through the LiveKit server API, which disconnects everyone,
the SIP leg included (``JobContext.delete_room`` does nothing in a fake job, so it is not used).
"""

from __future__ import annotations

import asyncio

from livekit import api, rtc

from ..log import logger


async def delete_room(lkapi: api.LiveKitAPI, room_name: str) -> None:
    """Delete ``room_name``; a room that is already gone is not an error."""
    try:
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=room_name))
    except api.TwirpError as err:
        if err.code != api.TwirpErrorCode.NOT_FOUND:
            raise
        logger.debug("the room was already deleted")


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


class RoomTelephony:
    """Hang-up signal from the room, hang-up through the LiveKit server API."""

    def __init__(self, lkapi: api.LiveKitAPI, room_name: str, caller_gone: asyncio.Event) -> None:
        self._api = lkapi
        self._room_name = room_name
        self._caller_gone = caller_gone
        self._hung_up = False

    async def wait_for_hangup(self) -> None:
        """Return when the caller has hung up."""
        await self._caller_gone.wait()

    async def hang_up(self) -> None:
        """Delete the room (only the first call sends the request)."""
        if self._hung_up:
            return
        self._hung_up = True
        await delete_room(self._api, self._room_name)

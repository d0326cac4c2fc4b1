"""The telephony port: call control on the phone line, and who is on it.

The runner and the tools only know this protocol. Its adapters: ``livekit`` (a SIP participant
in a LiveKit room, controlled through the LiveKit server API) and ``local`` (no phone line: the
console, and the replayed line of a recorded call). Dialing, DTMF and transfers widen it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SipParticipant:
    """The phone side of a call: the SIP participant of its room."""

    identity: str
    """The participant's identity in the room (what the LiveKit server API addresses)."""
    phone_number: str | None = None
    """The number of the person on the line (``sip.phoneNumber``)."""
    trunk_phone_number: str | None = None
    """Our number on this call (``sip.trunkPhoneNumber``)."""
    call_id: str | None = None
    """The SIP call id (``sip.callID``), for correlating with the trunk's logs."""


class TelephonyPort(Protocol):
    """Call control on the phone line."""

    @property
    def participant(self) -> SipParticipant | None:
        """The SIP participant of the call; None when there is no phone line (console)."""
        ...

    async def wait_for_answer(self) -> float:
        """Return the wall time at which the call was answered (at once, once it was)."""
        ...

    async def wait_for_hangup(self) -> None:
        """Return when the person on the line has hung up."""
        ...

    async def hang_up(self) -> None:
        """End the call for everyone (idempotent; the runner calls it at the end)."""
        ...

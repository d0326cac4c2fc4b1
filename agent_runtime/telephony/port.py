"""The telephony port: call control on the phone line, and who is on it.

The runner and the tools only know this protocol. Its adapters: ``livekit`` (a SIP participant
in a LiveKit room, dialled and controlled through the LiveKit server API), ``recorded`` (the
phone line of a recorded call, as its ``phone.json`` tells it) and ``local`` (no phone line:
the console).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

KeyListener = Callable[[str], None]
"""Called with each key the person on the line presses (``"4"``, ``"#"``...)."""


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

    async def wait_for_answer(self, *, ringing: Callable[[], None]) -> float:
        """Return the wall time at which the call was answered.

        An outbound call is dialled here: ``ringing`` is called once the far end is being
        called, and a call that is not answered raises ``DialFailed``. An inbound call was
        answered before: the time is returned at once.
        """
        ...

    async def wait_for_hangup(self) -> None:
        """Return when the person on the line has hung up."""
        ...

    async def hang_up(self) -> None:
        """End the call for everyone (idempotent; the runner calls it at the end)."""
        ...

    async def send_keys(self, keys: str) -> None:
        """Press ``keys`` on the line (DTMF, checked by ``dtmf.check_keys``), paced.

        Raises ``ValueError`` for a character that is no key, ``TelephonyError`` when the
        line refuses them.
        """
        ...

    def on_keys(self, listener: KeyListener) -> None:
        """Call ``listener`` with every key the person on the line presses from now on."""
        ...

    def on_keys_sent(self, listener: KeyListener) -> None:
        """Call ``listener`` with each string of keys ``send_keys`` has sent, once sent."""
        ...

    async def transfer(self, to: str) -> None:
        """Hand the call over to ``to`` (an E.164 number); ``TransferFailed`` when refused.

        On success the person on the line is connected to ``to`` and leaves this call.
        """
        ...

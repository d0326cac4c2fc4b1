"""The telephony port: call control on the phone line, and who is on it.

The runner and the tools only know this protocol. Its adapters: ``livekit`` (a SIP participant
in a LiveKit room, dialled and controlled through the LiveKit server API), ``recorded`` (the
phone line of a recorded call, as its ``phone.json`` tells it) and ``local`` (no phone line:
the console).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..media.ports import MediaPort

KeyListener = Callable[[str], None]
"""Called with each key the person on the line presses (``"4"``, ``"#"``...)."""


@dataclass(frozen=True)
class SipParticipant:
    """The phone side of a call: the SIP participant of its room."""

    identity: str
    """The participant's identity in the room (what the LiveKit server API addresses)."""
    trunk_phone_number: str | None = None
    """Our number on this call (``sip.trunkPhoneNumber``)."""


class ConsultationLeg(Protocol):
    """A second phone leg the caller cannot hear: the agent and the person it dialled.

    Warm transfer opens one to brief a supervisor before connecting them to the caller.
    """

    @property
    def media(self) -> MediaPort:
        """The dialled person's voice in (``caller_audio``), what they hear out (``sink``)."""
        ...

    @property
    def answered_at(self) -> float:
        """Wall time at which the dialled person answered."""
        ...

    def on_keys(self, listener: KeyListener) -> None:
        """Call ``listener`` with every key the dialled person presses from now on."""
        ...

    async def wait_for_hangup(self) -> None:
        """Return when the dialled person has hung up (or the leg was hung up)."""
        ...

    async def hang_up(self) -> None:
        """End this leg only (idempotent); the call with the caller goes on."""
        ...


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

    async def consult(self, to: str, *, ring_timeout: float) -> ConsultationLeg:
        """Dial ``to`` (E.164) from the call's number into a leg the caller cannot hear.

        Returns once the far end answers. ``DialFailed`` (its ``dial_error``: ``no_answer``,
        ``busy``, ``failed``...) when it does not within ``ring_timeout`` seconds;
        ``TransferFailed`` when this line cannot open a second leg at all (the console).
        """
        ...

    async def connect(self, leg: ConsultationLeg) -> None:
        """Connect the caller and ``leg``'s person: each hears the other from now on.

        The agent's own voice is no longer heard by either. The call then lasts until one of
        them hangs up; ``hang_up`` ends both legs. ``TelephonyError`` when it cannot be done.
        """
        ...

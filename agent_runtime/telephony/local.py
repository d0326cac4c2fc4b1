"""The ``TelephonyPort`` of a call with no phone line behind it: the console.

The person at the console hangs up when ``caller_left`` is set (Ctrl-C, Ctrl-D). The call is
answered when the runner first asks. Keys the agent sends and a transfer it makes are noted
and shown through ``notice`` (the console prints them); the transfer "succeeds" and the call
ends, as on a real line. There is no second line: a warm transfer fails at once
(``TransferFailed``), and the agent comes back to the person at the console.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..errors import TransferFailed
from .dtmf import check_keys
from .port import ConsultationLeg, KeyListener, SipParticipant

NO_SECOND_LINE = "the console has no second line to call a colleague on"


class LocalLine:
    """A line that only knows when its caller leaves, and notes what the agent does on it."""

    def __init__(self, *, notice: Callable[[str], None] | None = None) -> None:
        self.caller_left = asyncio.Event()
        self._notice = notice or (lambda _: None)
        self._listeners: list[KeyListener] = []
        self._sent_listeners: list[KeyListener] = []
        self._answered_at: float | None = None
        self.sent_keys: list[str] = []
        self.transferred_to: str | None = None

    @property
    def participant(self) -> SipParticipant | None:
        """There is no phone participant."""
        return None

    async def wait_for_answer(self, *, ringing: Callable[[], None]) -> float:
        """The call is answered when first asked."""
        if self._answered_at is None:
            self._answered_at = time.time()
        return self._answered_at

    async def wait_for_hangup(self) -> None:
        """Return when the caller has left."""
        await self.caller_left.wait()

    async def hang_up(self) -> None:
        """Nothing to hang up."""

    async def send_keys(self, keys: str) -> None:
        """Note the keys."""
        checked = check_keys(keys)
        self.sent_keys.append(checked)
        self._notice(f"agent pressed {checked}")
        for listener in self._sent_listeners:
            listener(checked)

    def on_keys_sent(self, listener: KeyListener) -> None:
        """Call ``listener`` with each string of keys sent."""
        self._sent_listeners.append(listener)

    def on_keys(self, listener: KeyListener) -> None:
        """Keys typed at the console reach ``listener`` through ``press``."""
        self._listeners.append(listener)

    def press(self, keys: str) -> None:
        """The person at the console presses ``keys``."""
        for key in check_keys(keys):
            for listener in self._listeners:
                listener(key)

    async def transfer(self, to: str) -> None:
        """Note the transfer: the person at the console is handed over."""
        self.transferred_to = to
        self._notice(f"call transferred to {to}")

    async def consult(self, to: str, *, ring_timeout: float) -> ConsultationLeg:
        """There is no second line: ``TransferFailed``."""
        self._notice(f"warm transfer to {to}: {NO_SECOND_LINE}")
        raise TransferFailed(f"cannot call {to}: {NO_SECOND_LINE}", reason=NO_SECOND_LINE)

    async def connect(self, leg: ConsultationLeg) -> None:
        """Never called: ``consult`` opens no leg."""
        raise TransferFailed("the console has no second leg", reason=NO_SECOND_LINE)

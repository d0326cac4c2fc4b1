"""The ``TelephonyPort`` of a call with no phone line behind it: the console and replay.

The person on the line hangs up when ``caller_left`` is set (Ctrl-D at the console, the recorded
hang-up time in a replay). The call is answered when the runner first asks. Hanging up is
noted, stamped by ``clock`` (wall time by default; a replay stamps its caller-audio time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .port import SipParticipant


class LocalLine:
    """A line that only knows when its caller leaves and when it was hung up."""

    def __init__(
        self,
        caller_left: asyncio.Event | None = None,
        *,
        participant: SipParticipant | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.caller_left = caller_left or asyncio.Event()
        self._participant = participant
        self._clock = clock
        self._answered_at: float | None = None
        self.hung_up_at: float | None = None
        """When the runtime hung up (by ``clock``), if it did."""

    @property
    def participant(self) -> SipParticipant | None:
        """The caller's stand-in participant, if the mode has one."""
        return self._participant

    async def wait_for_answer(self) -> float:
        """The call is answered when first asked."""
        if self._answered_at is None:
            self._answered_at = time.time()
        return self._answered_at

    async def wait_for_hangup(self) -> None:
        """Return when the caller has left."""
        await self.caller_left.wait()

    async def hang_up(self) -> None:
        """Note when the runtime hung up (the first time)."""
        if self.hung_up_at is None:
            self.hung_up_at = self._clock()

"""The caller hangs up: the call ends at once, ended by the user."""

from __future__ import annotations

from ...telephony.port import TelephonyPort
from ..ending import USER_HANGUP
from .base import Ending


class CallerHangup:
    """Ends the call when the person on the line hangs up."""

    name = "caller-hangup"

    def __init__(self, telephony: TelephonyPort) -> None:
        self._telephony = telephony

    async def watch(self) -> Ending:
        """Wait for the hang-up."""
        await self._telephony.wait_for_hangup()
        return Ending(USER_HANGUP, event="caller_hung_up", at_once=True)

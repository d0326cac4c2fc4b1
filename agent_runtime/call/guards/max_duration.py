"""``max_call_duration_secs``: counted from the answer, then the uninterruptible goodbye."""

from __future__ import annotations

import asyncio
import time

from ..ending import MAX_DURATION
from .base import Ending, Goodbye


class MaxDuration:
    """Ends the call ``limit`` seconds after it was answered, with its end message."""

    name = "max-duration"

    def __init__(self, limit: float, *, answered_at: float, message: str | None) -> None:
        self._deadline = answered_at + limit
        self._message = message

    async def watch(self) -> Ending:
        """Wait until the deadline (at once if it has passed)."""
        await asyncio.sleep(max(0.0, self._deadline - time.time()))
        return Ending(
            MAX_DURATION,
            Goodbye("max_duration_end_message", self._message),
            event="max_duration_reached",
        )

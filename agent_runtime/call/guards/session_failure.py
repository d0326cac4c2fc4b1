"""The voice session closed on its own (a provider gave up): apologise and hang up."""

from __future__ import annotations

import asyncio

from livekit.agents import AgentSession
from livekit.agents.voice.events import CloseEvent

from ...providers import provider_error
from ..ending import Outcome
from .base import Ending, Goodbye


def closed_outcome(ev: CloseEvent) -> Outcome:
    """How a call whose session closed ends: ``<provider>_error``, or ``session_closed``."""
    if ev.error is not None:
        failure = provider_error(ev.error)
        return Outcome(
            "system",
            f"{failure.provider}_error",
            status="error",
            error=f"{failure.provider} failed",
        )
    return Outcome(
        "system", "session_closed", status="error", error=f"session closed: {ev.reason.value}"
    )


class SessionFailure:
    """Ends the call with the failure line when the session closes before the call ended."""

    name = "session-failure"

    def __init__(self, session: AgentSession, *, failure_line: str | None) -> None:
        self._session = session
        self._line = failure_line
        self._event: CloseEvent | None = None
        self._closed = asyncio.Event()
        session.on("close", self._on_close)

    @property
    def closed(self) -> bool:
        """True once the session has closed."""
        return self._closed.is_set()

    def _on_close(self, ev: CloseEvent) -> None:
        self._event = ev
        self._closed.set()

    async def watch(self) -> Ending:
        """Wait for the session to close."""
        try:
            await self._closed.wait()
        finally:
            self._session.off("close", self._on_close)
        assert self._event is not None
        return Ending(closed_outcome(self._event), Goodbye("failure_line", self._line))

"""OpenAI's realtime model, with sessions that close cleanly after a fatal error.

In livekit-agents 1.8.9, when the Realtime API ends a session for good (a key out of quota,
reconnections used up), ``RealtimeSession.aclose`` raises that error again: the framework's
close of the call's session then stops half-way, leaving its VAD and end-of-turn streams running
and never reporting the close. The error was already reported (an unrecoverable
``realtime_model_error``), so closing swallows it.
"""

from __future__ import annotations

from livekit.plugins import openai

from .log import logger


class ClosingRealtimeSession(openai.realtime.RealtimeSession):
    """A realtime session whose close never raises the failure that ended it."""

    async def aclose(self) -> None:
        """Close the connection; a failure that already ended it is only logged."""
        try:
            await super().aclose()
        except Exception as err:
            logger.debug("realtime session had failed before its close: %s", type(err).__name__)


class RealtimeModel(openai.realtime.RealtimeModel):
    """``openai.realtime.RealtimeModel`` whose sessions are ``ClosingRealtimeSession``."""

    def session(self, *, turn_detection_disabled: bool = False) -> ClosingRealtimeSession:
        """A new session (the plugin's, with a close that does not raise)."""
        session = ClosingRealtimeSession(self, turn_detection_disabled=turn_detection_disabled)
        self._sessions.add(session)
        return session

"""A caller gone silent: asked whether they are still there, then a polite goodbye.

The session marks the caller ``away`` once caller and agent have both been silent for
``prompt_after`` seconds (the session's ``user_away_timeout``). The agent then asks
"Are you still there?"; if the caller says nothing within ``hangup_after`` seconds of that
question, the call ends with a goodbye (``end_reason`` ``silence_timeout``). Any word from
the caller starts the count afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from livekit.agents import AgentSession
from livekit.agents.voice.events import UserStateChangedEvent

from ..ending import Outcome
from .base import Ending, Goodbye

IDLE_HANGUP = Outcome("agent", "silence_timeout")
PROMPT_LINE = "Are you still there?"
GOODBYE_LINE = "I can't hear you, so I'll end the call now. Goodbye!"


PROMPT_AFTER = 15.0
"""Default seconds of silence on both sides before the prompt."""
HANGUP_AFTER = 15.0
"""Default seconds after the prompt, without a word from the caller, before the goodbye."""


class IdleCaller:
    """Prompts a silent caller, then ends the call (a guard of the runner)."""

    name = "idle-caller"

    def __init__(
        self,
        session: AgentSession,
        *,
        hangup_after: float,
        active: Callable[[], bool],
        event: Callable[..., None],
    ) -> None:
        """Follow ``session`` (its ``user_away_timeout`` is the prompt's wait).

        ``active`` says whether the agent may speak at all now.
        """
        self._session = session
        self._hangup_after = hangup_after
        self._active = active
        self._event = event
        self._away = asyncio.Event()
        self._spoke = asyncio.Event()
        session.on("user_state_changed", self._on_user_state)

    async def watch(self) -> Ending:
        """Return the ending once a prompted caller stayed silent (never without away time)."""
        while True:
            self._away.clear()
            await self._away.wait()
            if not self._active():
                continue
            self._spoke.clear()
            self._event("caller_idle_prompted")
            with contextlib.suppress(RuntimeError):  # the session is closing
                await self._session.say(PROMPT_LINE)
            if self._spoke.is_set():
                continue
            try:
                await asyncio.wait_for(self._spoke.wait(), self._hangup_after)
            except TimeoutError:
                if self._active():
                    return Ending(
                        IDLE_HANGUP,
                        Goodbye("idle_goodbye", GOODBYE_LINE),
                        event="caller_idle_hangup",
                    )

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        if ev.new_state == "away":
            self._away.set()
        elif ev.new_state == "speaking":
            self._spoke.set()

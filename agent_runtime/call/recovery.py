"""When the LLM fails a turn, the caller is not left in silence.

The framework retries a failed LLM request, then gives up on the turn. Two cases:
- the reply of a committed turn failed (the agent was "thinking"): say the recovery line, so
  the caller knows to repeat;
- a *preemptive* generation failed (started on the transcript before the end of turn was
  confirmed): the framework would reuse that failed reply when the turn is committed and say
  nothing, so the reply is asked for again once the turn is committed.

After ``max_failed_turns`` turns in a row without a reply, the LLM is down: ``give_up`` is called
(the runner apologises and hangs up) rather than apologising on every turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession, llm
from livekit.agents.types import NOT_GIVEN
from livekit.agents.voice.events import ConversationItemAddedEvent, ErrorEvent


class TurnRecovery:
    """Follows a session's LLM failures and answers each failed turn."""

    def __init__(
        self,
        session: AgentSession,
        *,
        line: str | None,
        audio: Callable[[], Awaitable[AsyncIterator[rtc.AudioFrame] | None]],
        active: Callable[[], bool],
        spawn: Callable[[Coroutine[Any, Any, None]], object],
        event: Callable[..., None],
        give_up: Callable[[], None],
        max_failed_turns: int = 2,
    ) -> None:
        self._session = session
        self._line = line
        self._audio = audio
        self._active = active
        self._spawn = spawn
        self._event = event
        self._give_up = give_up
        self._max_failed_turns = max_failed_turns
        self._failed_turns = 0
        self._preemptive_failed = False
        session.on("error", self._on_error)
        session.on("conversation_item_added", self._on_item)

    def _on_error(self, ev: ErrorEvent) -> None:
        error = ev.error
        if getattr(error, "type", None) != "llm_error" or getattr(error, "recoverable", True):
            return
        if self._session.agent_state != "thinking":
            self._preemptive_failed = True
            return
        self.turn_failed()

    def turn_failed(self) -> None:
        """A turn got no reply (the LLM failed it, or it was given up).

        Apologise with the recovery line, or hang up once the LLM looks down.
        """
        self._failed_turns += 1
        if not self._active():
            return
        if self._failed_turns >= self._max_failed_turns:
            self._event("llm_unavailable", failed_turns=self._failed_turns)
            self._give_up()
        elif self._line:
            self._spawn(self._say_line())

    def _on_item(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if not isinstance(item, llm.ChatMessage):
            return
        if item.role == "assistant" and item.text_content != self._line:
            self._failed_turns = 0  # the LLM answered
        if item.role == "user" and self._preemptive_failed:
            self._preemptive_failed = False
            self._spawn(self._ask_again())

    async def _ask_again(self) -> None:
        await asyncio.sleep(0)  # let the framework finish committing the turn
        if self._active():
            with contextlib.suppress(RuntimeError):
                self._session.generate_reply()
                self._event("llm_turn_retried")

    async def _say_line(self) -> None:
        rendered = await self._audio()
        if not self._active() or self._line is None:
            return
        audio: Any = rendered if rendered is not None else NOT_GIVEN
        with contextlib.suppress(RuntimeError):  # the session may be closing after the error
            self._session.say(self._line, audio=audio)
            self._event("llm_turn_failed", said="recovery_line")

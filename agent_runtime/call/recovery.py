"""When the LLM fails a turn, the caller is not left in silence.

The framework retries a failed LLM request, then gives up on the turn. Two cases:
- the reply of a committed turn failed (the agent was "thinking"): say the recovery line, so
  the caller knows to repeat;
- a *preemptive* generation failed (started on the transcript before the end of turn was
  confirmed): the framework would reuse that failed reply when the turn is committed and say
  nothing, so the reply is asked for again once the turn is committed.

After ``max_failed_turns`` turns in a row without a reply, the LLM is down: ``give_up`` is called
(the runner apologises and hangs up) rather than apologising on every turn.

A realtime model reports its failures as ``realtime_model_error``: a recoverable one (a failed
response, a lost connection) while the caller waits for a reply fails that turn; an
unrecoverable one (a key that can never succeed, reconnections used up) gives up at once. The
framework's own close after such an error can fail and leave the session open and mute, so
the call is not left to that.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession, llm
from livekit.agents.types import NOT_GIVEN
from livekit.agents.voice.events import (
    AgentStateChangedEvent,
    ConversationItemAddedEvent,
    ErrorEvent,
    SpeechCreatedEvent,
)


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
        self._reply_owed = False
        """A realtime model was asked for a reply the caller has not heard yet."""
        session.on("error", self._on_error)
        session.on("conversation_item_added", self._on_item)
        if isinstance(session.llm, llm.RealtimeModel):
            session.on("speech_created", self._on_speech)
            session.on("agent_state_changed", self._on_agent_state)

    def _on_speech(self, ev: SpeechCreatedEvent) -> None:
        if ev.source == "generate_reply":
            self._reply_owed = True

    def _on_agent_state(self, ev: AgentStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            self._reply_owed = False

    def _on_error(self, ev: ErrorEvent) -> None:
        error = ev.error
        if getattr(error, "type", None) == "realtime_model_error":
            self._realtime_failed(recoverable=getattr(error, "recoverable", True))
            return
        if getattr(error, "type", None) != "llm_error" or getattr(error, "recoverable", True):
            return
        if self._session.agent_state != "thinking":
            self._preemptive_failed = True
            return
        self.turn_failed()

    def _realtime_failed(self, *, recoverable: bool) -> None:
        if not self._active():
            return
        if not recoverable:
            self._event("llm_unavailable", failed_turns=self._failed_turns)
            self._give_up()
        elif self._reply_owed:
            self._reply_owed = False
            with contextlib.suppress(RuntimeError):  # the failed reply must not come late
                self._session.interrupt(force=True)
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

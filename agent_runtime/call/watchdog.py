"""The caller is never left in silence by a fault on our side.

From the moment the agent starts working on an answer (its state turns ``thinking``), the
watchdog listens to what the caller hears:

- once the caller has waited ``HOLD_AFTER`` seconds since they stopped speaking, and the agent
  has been at it for ``HOLD_MIN_WORK`` seconds, with no voice of the agent and no thinking
  sound playing, the holding line
  ("One moment, please.") is played into the silence, pre-rendered: the agent's own voice cuts
  it the moment it comes. A tool still running gets it again every ``HOLD_AGAIN`` seconds;
- after ``GIVE_UP_AFTER`` seconds of work with no voice of the agent and no tool running (the
  LLM or the voice hung, or the stream stalled), the pending reply is cancelled and the turn
  counts as failed: the recovery line, or the end of the call once the LLM looks down.

A realtime model has no ``thinking`` state: the wait starts when it is asked for a reply.

A tool is bounded by its own time budget: the watchdog holds the line while it runs, and never
cancels it. Each holding line and each turn given up is a report event.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from livekit.agents import AgentSession, llm
from livekit.agents.voice import io
from livekit.agents.voice.events import (
    AgentStateChangedEvent,
    SpeechCreatedEvent,
    ToolExecutionUpdatedEvent,
    UserStateChangedEvent,
)

from ..media.output import CallAudioOutput
from ..providers import VAD_MIN_SILENCE
from .clips import Clip

HOLD_AFTER = 1.5
"""Seconds a caller waits, from the end of their speech, before the holding line."""
HOLD_MIN_WORK = 1.2
"""Seconds the agent works on an answer before a holding line may be played (a slow
end-of-turn decision alone is no fault)."""
HOLD_AGAIN = 6.0
"""Seconds between two holding lines while a tool runs."""
GIVE_UP_AFTER = 4.5
"""Seconds of work without the agent's voice, no tool running, before the turn is given up."""
POLL = 0.1
"""Seconds between two looks."""


class SilenceWatchdog:
    """Holds the line and gives up stuck turns, for one call's session."""

    def __init__(
        self,
        session: AgentSession,
        output: CallAudioOutput,
        *,
        holding: Callable[[], Awaitable[Clip | None]] | None,
        turn_failed: Callable[[], None],
        event: Callable[..., None],
        active: Callable[[], bool],
        thinking_sound: Callable[[], bool] = lambda: False,
        give_up_after: float = GIVE_UP_AFTER,
    ) -> None:
        """Follow ``session`` and ``output``.

        ``holding`` gives the rendered holding line (None: no line); ``active`` says whether the
        agent is expected to answer at all (not while the call ends, a machine talks or a
        transfer is under way); ``thinking_sound``, whether the caller hears the thinking sound
        (then no holding line is needed); ``give_up_after``, how long a turn may take (longer
        with a fallback LLM, which gets its turn after the first one's attempt).
        """
        self._session = session
        self._output = output
        self._holding = holding
        self._turn_failed = turn_failed
        self._event = event
        self._active = active
        self._thinking_sound = thinking_sound
        self._give_up_after = give_up_after
        self._spoke_at = 0.0
        self._working_since: float | None = None
        self._held_at: float | None = None
        self._tools: set[str] = set()
        session.on("agent_state_changed", self._on_agent_state)
        session.on("user_state_changed", self._on_user_state)
        session.on("tool_execution_updated", self._on_tool)
        if isinstance(session.llm, llm.RealtimeModel):
            session.on("speech_created", self._on_reply_asked)
        output.on("playback_started", self._on_voice)

    async def watch(self) -> None:
        """Look at the line every ``POLL`` seconds, until cancelled (the call ends)."""
        while True:
            await asyncio.sleep(POLL)
            since = self._working_since
            if since is None or not self._active():
                continue
            now = time.time()
            if not self._tools and now - since >= self._give_up_after:
                self._give_up(now - since)
            elif self._holding is not None and not self._thinking_sound() and self._due(now, since):
                self._held_at = now
                await self._hold()

    # -- what happens on the line ----------------------------------------------------------------

    def _on_agent_state(self, ev: AgentStateChangedEvent) -> None:
        if ev.new_state == "thinking":
            if self._working_since is None:
                self._working_since = time.time()
        elif not self._tools:  # speaking, or done (listening)
            self._settle()

    def _on_reply_asked(self, ev: SpeechCreatedEvent) -> None:
        if ev.source == "generate_reply" and self._working_since is None:
            self._working_since = time.time()

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            self._settle()  # the caller talks: nothing is owed until their turn ends
        elif ev.old_state == "speaking":
            self._spoke_at = time.time() - VAD_MIN_SILENCE

    def _on_tool(self, ev: ToolExecutionUpdatedEvent) -> None:
        update = ev.update
        if update.type == "tool_call_started":
            self._tools.add(update.function_call.call_id)
        elif update.type == "tool_call_ended":
            self._tools.discard(update.call_id)
            if self._working_since is not None:  # the LLM now works on the answer
                self._working_since = time.time()

    def _on_voice(self, _: io.PlaybackStartedEvent) -> None:
        self._settle()  # the answer is being heard

    # -- helpers ---------------------------------------------------------------------------------

    def _settle(self) -> None:
        self._working_since = None
        self._held_at = None

    def _due(self, now: float, since: float) -> bool:
        if self._held_at is not None:
            return bool(self._tools) and now - self._held_at >= HOLD_AGAIN
        heard = self._output.last_voice_at or 0.0
        waited = now - max(self._spoke_at, heard)
        return waited >= HOLD_AFTER and now - since >= HOLD_MIN_WORK

    async def _hold(self) -> None:
        assert self._holding is not None
        clip = await self._holding()
        if clip is None or self._working_since is None or not self._active():
            return
        self._output.play_aside(clip.frames)
        self._event("holding_line", tool=bool(self._tools))

    def _give_up(self, waited: float) -> None:
        self._settle()
        self._event("turn_given_up", waited=round(waited, 3))
        with contextlib.suppress(RuntimeError):  # nothing to interrupt, or closing
            self._session.interrupt(force=True)
        self._turn_failed()

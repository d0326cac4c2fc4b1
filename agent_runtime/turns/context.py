"""What the call knows when the caller pauses.

Their words so far, the agent's last question, and how this caller pauses; fed by the
session's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from livekit.agents import AgentSession, llm
from livekit.agents.language import LanguageCode
from livekit.agents.voice.events import (
    ConversationItemAddedEvent,
    UserInputTranscribedEvent,
    UserStateChangedEvent,
)

from .expectation import NOTHING, Expectation, expect
from .rhythm import CallerRhythm
from .words import Verdict, read

CUT_OFF_WINDOW = 1.0
"""A caller who goes on this soon after their turn was committed had only paused."""


class TurnContext:
    """The current caller turn, as the session reports it."""

    def __init__(self) -> None:
        self.rhythm = CallerRhythm()
        self.expectation: Expectation = NOTHING
        """What the agent's last message asked for."""
        self.agent_spoke = False
        """True once the agent has said something on this call."""
        self.language: LanguageCode | None = None
        """The caller's language as the STT reports it (None: not reported), which picks
        v1-mini's threshold."""
        self._finals: list[str] = []
        self._interim = ""
        self._final_at = 0.0
        self._started_at = 0.0
        self._speech_ended_at: float | None = None
        self._committed_at: float | None = None
        self._changed = asyncio.Event()
        self._session: AgentSession | None = None

    def attach(self, session: AgentSession) -> None:
        """Follow ``session``'s events."""
        self._session = session
        session.on("user_input_transcribed", self._on_transcript)
        session.on("user_state_changed", self._on_user_state)
        session.on("conversation_item_added", self._on_item)

    # -- what the decision reads ---------------------------------------------------------------

    @property
    def transcript(self) -> str:
        """The caller's words in this turn so far (final, then the latest interim)."""
        return " ".join([*self._finals, self._interim]).strip()

    @property
    def unfinished(self) -> bool:
        """True when the caller's words so far read as unfinished ("My account number is")."""
        return read(self.transcript, asked_digits=self.expectation.digits).verdict is (
            Verdict.UNFINISHED
        )

    @property
    def agent_holds_floor(self) -> bool:
        """True while the agent says something that cannot be interrupted.

        A turn committed then would not be answered (the framework drops it): it waits.
        """
        speech = self._session.current_speech if self._session is not None else None
        return speech is not None and not speech.done() and not speech.allow_interruptions

    @property
    def words_current(self) -> bool:
        """True when a final transcript arrived since the caller last started speaking."""
        return self._final_at >= self._started_at

    async def changed(self, within: float) -> None:
        """Wait up to ``within`` seconds for new words."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), within)

    # -- events --------------------------------------------------------------------------------

    def heard(self, text: str, *, final: bool, at: float | None = None) -> None:
        """Words of the caller arrived."""
        if final:
            if text.strip():
                self._finals.append(text.strip())
            self._interim = ""
            self._final_at = at if at is not None else time.time()
        else:
            self._interim = text.strip()
        self._changed.set()

    def speech_started(self, at: float) -> None:
        """The caller speaks (again): a pause inside their turn ends here."""
        self._started_at = at
        ended = self._speech_ended_at
        if ended is not None:
            committed = self._committed_at
            if committed is None or committed < ended or at - committed <= CUT_OFF_WINDOW:
                self.rhythm.paused(at - ended)
        self._speech_ended_at = None

    def speech_ended(self, at: float) -> None:
        """The caller's speech ended at ``at`` (the session back-dates the VAD's report)."""
        self._speech_ended_at = at

    def committed(self, at: float) -> None:
        """The caller's turn was committed (the agent answers it)."""
        self._committed_at = at
        self._finals.clear()
        self._interim = ""

    def agent_said(self, text: str) -> None:
        """The agent's latest message: what it asked sets what the caller's answer needs."""
        self.agent_spoke = True
        self.expectation = expect(text)

    def _on_transcript(self, ev: UserInputTranscribedEvent) -> None:
        language = ev.language
        specific = language is not None and language.language not in ("auto", "multi")
        if specific and (self.language is None or len(ev.transcript) > 5):
            self.language = language  # a few characters tell little (the framework's rule)
        self.heard(ev.transcript, final=ev.is_final)  # now: its created_at may be another clock

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            self.speech_started(ev.created_at)
        elif ev.old_state == "speaking":
            self.speech_ended(ev.created_at)

    def _on_item(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if not isinstance(item, llm.ChatMessage):
            return
        if item.role == "user":
            self.committed(time.time())
        elif item.role == "assistant" and item.text_content:
            self.agent_said(item.text_content)

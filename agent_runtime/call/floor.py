"""Whether the agent may speak yet: on an outbound call, not before it knows who answered."""

from __future__ import annotations

import asyncio
import contextlib

from livekit.agents import AgentSession
from livekit.agents.voice.events import UserInputTranscribedEvent
from livekit.agents.voice.turn import PreemptiveGenerationOptions

from ..turns.detector import CallTurnDetector


class Floor:
    """The agent's greeting and its replies to the callee's turns, held or allowed.

    A floor that starts ``deciding`` holds both until ``open`` (a person, or nobody known) or
    ``close`` (a machine); otherwise both are allowed from the start (inbound calls). While it
    holds replies, and until the greeting owed to a person has been said, no reply is prepared
    ahead either (``preemptive``): a voicemail greeting costs no LLM request. Nor while the
    caller's words are unfinished ("My account number is"): a reply to them would be thrown
    away, and the framework allows only a few such attempts per turn.
    """

    def __init__(self, *, deciding: bool) -> None:
        self.detecting = deciding
        """True when who answered is being decided on this call (outbound)."""
        self._replies = not deciding
        self._greet: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.preemptive: PreemptiveGenerationOptions = {}
        """The agent's own preemptive-generation options: read live by the framework, they
        turn it off while the floor is held (empty: the session's setting applies)."""
        self.unanswered = 0
        """Callee turns let pass and not answered since (``answered`` resets it)."""
        self._passed = asyncio.Event()
        self._held = False
        self._greeting_owed = False
        self._unfinished = False
        if not deciding:
            self._greet.set_result(True)
        self._prepare_ahead()

    @property
    def replies(self) -> bool:
        """True when the callee's turns are answered."""
        return self._replies and not self._held

    def hold(self) -> None:
        """Let the caller's turns pass unanswered for now (they are on hold: a warm transfer)."""
        self._held = True
        self._prepare_ahead()

    def release(self) -> None:
        """Answer the caller's turns again, as before ``hold``."""
        self._held = False
        self._prepare_ahead()

    def caller_words(self, *, unfinished: bool) -> None:
        """The caller's words so far in this turn are ``unfinished`` (or not)."""
        self._unfinished = unfinished
        self._prepare_ahead()

    async def greeting(self) -> bool:
        """Wait until who answered is known; True if the agent should greet."""
        return await asyncio.shield(self._greet)

    def open(self, *, greet: bool) -> None:
        """Answer the callee's turns (and greet, if ``greet`` and nothing was decided before)."""
        self._replies = True
        if not self._greet.done():
            self._greet.set_result(greet)
            self._greeting_owed = greet  # replies are prepared ahead once it is said
        self._prepare_ahead()

    def let_pass(self) -> None:
        """The agent let a callee turn pass unanswered (it is in the conversation)."""
        self.unanswered += 1
        self._passed.set()

    def answered(self) -> None:
        """The turns let pass are being answered now."""
        self.unanswered = 0
        self._passed.clear()

    async def turn_passed(self, within: float) -> bool:
        """Wait up to ``within`` seconds for a turn let pass; True if there is one."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._passed.wait(), within)
        return self.unanswered > 0

    def greeted(self) -> None:
        """The greeting was said (or there is none): replies may be prepared ahead again."""
        self._greeting_owed = False
        self._prepare_ahead()

    def close(self) -> None:
        """Stop answering (a machine is on the line); no greeting."""
        self._replies = False
        self._prepare_ahead()
        if not self._greet.done():
            self._greet.set_result(False)

    def _prepare_ahead(self) -> None:
        """Turn the preparing of replies ahead off, or leave it to the session's setting."""
        if not self.replies or self._greeting_owed or self._unfinished:
            self.preemptive["enabled"] = False
        else:
            self.preemptive.pop("enabled", None)


def follow_caller_words(floor: Floor, session: AgentSession) -> None:
    """Tell ``floor`` after each transcript whether the caller's words so far are unfinished.

    The call's end-of-turn context reads them; a realtime model has none.
    """
    detector = session.turn_detection
    if not isinstance(detector, CallTurnDetector):
        return
    context = detector.context

    def on_transcript(_: UserInputTranscribedEvent) -> None:
        floor.caller_words(unfinished=context.unfinished)

    session.on("user_input_transcribed", on_transcript)

"""Who answered the call, and what the call does about it (``docs/answering.md``).

Inbound calls are not classified: ``result`` is human when the caller spoke, unknown otherwise.
On an outbound call the agent holds its greeting and its replies (the ``Floor``) until the
``AnsweringDetector`` decides who picked up, then:

- a person, or nobody known (silence): the agent greets and the conversation starts;
- a voicemail: with ``voicemail_message``, the agent waits for the beep (or the end of the
  greeting when there is none), says the message exactly and uninterruptibly, and hangs up;
  without one, or for a full mailbox, it hangs up at once (``end_reason`` voicemail);
- a phone menu: with ``ivr_navigation_enabled``, the LLM gets ``send_dtmf`` and ``skip_turn``
  and navigation instructions, and is told when the menu repeats itself; a menu heard
  ``MENU_REPEATS`` times, or still there after ``MENU_BUDGET`` seconds, ends the call
  (``ivr_no_navigate``). Without navigation the call ends at once, with the same reason. A
  person reached through the menu is talked to, and makes ``result`` human;
- a call screener: the agent says who it is and why it calls, then waits; a person who picks
  up is talked to (``result`` human), a screener that never connects ends the call after
  ``SCREENER_WAIT`` seconds (``result`` ios-screening-filter, ``end_reason`` call_screener).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import re
import time
from collections.abc import Callable
from typing import Literal

import numpy as np
from livekit import rtc
from livekit.agents import Agent, AgentSession, llm
from livekit.agents.voice.events import UserInputTranscribedEvent, UserStateChangedEvent

from ..answering.beep import BeepDetector
from ..answering.cues import cue_of, normalized
from ..answering.detector import (
    RESULT_OF,
    AnsweringDetector,
    Classify,
    Kind,
    Verdict,
)
from ..config.attempt import AttemptResult
from ..config.spec import CallSpec
from ..providers import VAD_MIN_SILENCE
from ..tasks import TaskSet
from .ending import Outcome
from .floor import Floor
from .guards.base import Ending, Goodbye

VOICEMAIL = Outcome("agent", "voicemail")
IVR_NO_NAVIGATE = Outcome("agent", "ivr_no_navigate")
SCREENED_OUT = Outcome("agent", "call_screener")

BEEP_SETTLE = 0.3
"""Seconds after a beep without another one before the message starts (double beeps)."""
TONE_POLL = 0.05
"""Seconds between two looks at a tone still sounding."""
GREETING_OVER = 2.0
"""Seconds of silence after a voicemail greeting, with no beep, before the message is left."""
SLOT_LIMIT = 45.0
"""Most seconds waited for the beep or the greeting's end before leaving the message anyway."""
MENU_REPEATS = 3
"""Times the same menu prompt may be heard before navigation is given up."""
MENU_BUDGET = 90.0
"""Seconds a menu may take before navigation is given up."""
MENU_SIMILAR = 0.8
"""How alike two menu prompts must be (``difflib`` ratio) to count as the menu repeating."""
MENU_PROMPT_WORDS = 4
"""Shorter menu lines ("Please hold.") are not compared for repeats."""
SCREENER_WAIT = 30.0
"""Seconds a screener may take to put a person on the line after the agent introduced itself."""
QUIET = 0.6
"""Seconds of silence after which a menu or a screener has finished speaking."""
TURN_PASSES = 3.0
"""Most seconds waited, once a screener is quiet, for its turn to join the conversation."""

MENU_INSTRUCTIONS = """

You reached an automated phone menu, not a person. Navigate it towards a person who can help
with the purpose of this call: press keys with the send_dtmf tool when the menu offers a
choice, and call skip_turn whenever the menu is still talking or there is nothing to press. Do
not speak to the menu. When a person answers, talk to them normally."""
MENU_REPEATED = """

The phone menu has just repeated itself: your last choice did not get through. Choose
differently (the operator, often 0, or the option closest to the purpose of the call)."""
PERSON_REACHED = """

A person has now answered the call. Talk to them normally."""
SCREENER_INSTRUCTIONS = (
    "An automated call screener answered for the person you are calling and asked who you are. "
    "In one or two short sentences, say your name, who you are calling for, and why you are "
    "calling. Then stop and wait."
)
_PERSON = re.compile(
    r"how (?:can|may) i (?:help|assist)|\bspeaking\b|who(?:'s| is) (?:this|calling)|"
    r"^(?:hello|hi|hey|yes|yeah)\b"
)

Mode = Literal["deciding", "conversation", "voicemail", "menu", "screener", "ending"]


def inferred_result(*, caller_spoke: bool) -> AttemptResult:
    """The ``result`` of a call nobody classified: human when the person on the line spoke."""
    return "human" if caller_spoke else "unknown"


class AnsweringFlow:
    """Runs detection on an outbound call and carries out what the verdict calls for."""

    def __init__(
        self,
        spec: CallSpec,
        *,
        classify: Classify | None,
        end: Callable[[Ending], object],
        event: Callable[..., None],
        tasks: TaskSet,
    ) -> None:
        self._spec = spec
        self._classify = classify
        self._end = end
        self._event = event
        self._tasks = tasks
        self.floor = Floor(deciding=True)
        self._detector = AnsweringDetector(
            on_verdict=self._on_verdict,
            classify=classify,
            spawn=lambda work: tasks.spawn(work, name="answering-classify"),
        )
        self._beeps: BeepDetector | None = None
        self._session: AgentSession | None = None
        self._agent: Agent | None = None
        self._instructions = ""
        self._menu_tools: list[llm.Tool | llm.Toolset] = []
        self._answered_at = 0.0
        self._mode: Mode = "deciding"
        self._kind: Kind | None = None
        self._person_reached = False
        self._speaking = False
        self._speech_started_at = 0.0
        self._silent_since = 0.0
        self._beep_at: float | None = None
        self._menu_lines: list[str] = []
        self._changed = asyncio.Event()

    # -- wiring ------------------------------------------------------------------------------

    def hear(self, frame: rtc.AudioFrame) -> None:
        """A frame of the callee's audio: looked at for beeps while a machine may be talking."""
        if self._mode not in ("deciding", "voicemail") and not self._detector.revisable:
            return
        if self._beeps is None:
            self._beeps = BeepDetector(frame.sample_rate)
        samples = np.frombuffer(frame.data, dtype=np.int16)
        if frame.num_channels > 1:
            samples = samples[:: frame.num_channels]
        beep = self._beeps.push(samples)
        if beep is None:
            return
        self._beep_at = time.time()
        self._event(
            "beep", frequency=round(beep.frequency), seconds=round(beep.end - beep.start, 3)
        )
        self._detector.beeped()
        self._changed.set()

    def start(
        self, session: AgentSession, agent: Agent, menu_tools: list[llm.Tool | llm.Toolset]
    ) -> None:
        """The call was answered and its session started: listen."""
        self._session = session
        self._agent = agent
        self._instructions = self._spec.instructions
        self._menu_tools = menu_tools
        self._answered_at = self._silent_since = time.time()
        session.on("user_state_changed", self._on_user_state)
        session.on("user_input_transcribed", self._on_transcribed)
        self._detector.start()

    def close(self) -> None:
        """The call is ending: stop deciding and steering (nothing waits for the floor)."""
        self._mode = "ending"
        self._detector.close()
        self.floor.close()

    @property
    def steering(self) -> bool:
        """True while the call, not the conversation, decides what is said (a machine talks)."""
        return self._mode != "conversation"

    def result(self, *, callee_spoke: bool) -> AttemptResult:
        """The report's ``result``: who answered, or a person reached behind a menu or screener."""
        if self._person_reached:
            return "human"
        if self._kind is None:
            return "unknown"  # the call ended before anyone was recognised
        if self._kind == "unknown":  # greeted anyway: a callee who then spoke was a person
            return inferred_result(caller_spoke=callee_spoke)
        return RESULT_OF[self._kind]

    # -- what the callee does ------------------------------------------------------------------

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            self._speaking = True
            self._speech_started_at = time.time()
            self._detector.speech_started()
        elif ev.old_state == "speaking":
            self._speaking = False
            self._silent_since = time.time() - VAD_MIN_SILENCE
            self._detector.speech_ended(silence=VAD_MIN_SILENCE)
        self._changed.set()

    def _on_transcribed(self, ev: UserInputTranscribedEvent) -> None:
        if not ev.transcript.strip():
            return
        if not ev.is_final:
            self._detector.heard_words()
            return
        self._detector.transcribed(ev.transcript)
        if self._mode == "menu":
            self._menu_line(ev.transcript)
        elif self._mode == "screener":
            self._screener_line(ev.transcript)
        self._changed.set()

    # -- the verdict ---------------------------------------------------------------------------

    def _on_verdict(self, verdict: Verdict) -> None:
        revised = self._kind is not None
        self._kind = verdict.kind
        self._event(
            "answered_by",
            kind=verdict.kind,
            reason=verdict.reason,
            seconds=round(verdict.at - self._answered_at, 3),
            revised=revised or None,
        )
        if self._mode == "ending":
            return
        if not verdict.machine:
            self._mode = "conversation"
            self.floor.open(greet=True)
            return
        self.floor.close()
        if revised:  # the agent took a machine for a person: it stops talking to it
            self._interrupt()
        if verdict.kind == "voicemail":
            self._mode = "voicemail"
            self._tasks.spawn(self._leave_message(), name="voicemail")
        elif verdict.kind == "mailbox_full":
            self._mode = "ending"
            self._end(Ending(VOICEMAIL))
        elif verdict.kind == "ivr":
            self._tasks.spawn(self._navigate(verdict), name="phone-menu")
        else:
            self._mode = "screener"
            self._tasks.spawn(self._introduce(), name="call-screener")

    # -- voicemail -------------------------------------------------------------------------------

    async def _leave_message(self) -> None:
        message = self._spec.voicemail_message
        if not message:
            self._mode = "ending"
            self._end(Ending(VOICEMAIL))
            return
        slot = await self._message_slot()
        self._event("voicemail_slot", after=slot)
        self._mode = "ending"
        self._end(Ending(VOICEMAIL, Goodbye("voicemail_message", message)))

    async def _message_slot(self) -> str:
        """Wait until the message may start: the beep ended, or the greeting is over."""
        deadline = time.time() + SLOT_LIMIT
        while (now := time.time()) < deadline:
            beep_at = self._beep_at
            tone = self._beeps is not None and self._beeps.tone_started
            if beep_at is not None and self._speech_started_at <= beep_at:
                if not tone and now - beep_at >= BEEP_SETTLE:
                    return "beep"
                await self._changes(TONE_POLL if tone else beep_at + BEEP_SETTLE - now)
                continue
            quiet_for = now - self._silent_since
            if not self._speaking and not tone and quiet_for >= GREETING_OVER:
                return "greeting_over"
            wait = deadline - now if self._speaking or tone else GREETING_OVER - quiet_for
            await self._changes(min(wait, deadline - now))
        return "time_limit"

    # -- phone menus -----------------------------------------------------------------------------

    async def _navigate(self, verdict: Verdict) -> None:
        if not self._spec.assistant.ivr_navigation_enabled:
            self._mode = "ending"
            self._end(Ending(IVR_NO_NAVIGATE))
            return
        agent, session = self._agent, self._session
        assert agent is not None and session is not None
        self._mode = "menu"
        self._menu_lines = [normalized(verdict.transcript)]
        await agent.update_tools([*agent.tools, *self._menu_tools])
        await agent.update_instructions(self._instructions + MENU_INSTRUCTIONS)
        self.floor.open(greet=False)
        self._tasks.spawn(self._menu_budget(), name="phone-menu-budget")
        await self._quiet()
        if self._mode == "menu" and self.floor.unanswered and session.agent_state == "listening":
            self.floor.answered()  # the menu was heard out before the verdict: act on it
            with contextlib.suppress(RuntimeError):  # the session is closing
                session.generate_reply()

    def _menu_line(self, text: str) -> None:
        line = normalized(text)
        if self._person_behind("menu", line):
            return
        if len(line.split()) < MENU_PROMPT_WORDS:
            return
        heard = 1 + sum(
            difflib.SequenceMatcher(None, line, earlier).ratio() >= MENU_SIMILAR
            for earlier in self._menu_lines
        )
        self._menu_lines.append(line)
        if heard < 2:
            return
        self._event("menu_repeated", times=heard)
        if heard >= MENU_REPEATS:
            self._mode = "ending"
            self._end(Ending(IVR_NO_NAVIGATE))
        elif self._agent is not None:
            self._steer(self._instructions + MENU_INSTRUCTIONS + MENU_REPEATED)

    async def _menu_budget(self) -> None:
        await asyncio.sleep(MENU_BUDGET)
        if self._mode == "menu":
            self._event("menu_budget_spent", seconds=MENU_BUDGET)
            self._mode = "ending"
            self._end(Ending(IVR_NO_NAVIGATE))

    # -- call screeners --------------------------------------------------------------------------

    async def _introduce(self) -> None:
        session = self._session
        assert session is not None
        await self._quiet()
        # its words first join the conversation (a turn is not taken while the agent speaks)
        await self.floor.turn_passed(within=TURN_PASSES)
        if self._mode != "screener":
            return
        self.floor.answered()
        with contextlib.suppress(RuntimeError):  # the session is closing
            session.generate_reply(instructions=SCREENER_INSTRUCTIONS, allow_interruptions=False)
        await asyncio.sleep(SCREENER_WAIT)
        if self._mode == "screener":
            self._event("screener_no_connect", seconds=SCREENER_WAIT)
            self._mode = "ending"
            self._end(Ending(SCREENED_OUT))

    def _screener_line(self, text: str) -> None:
        self._person_behind("screener", normalized(text))

    def _person_behind(self, behind: Literal["menu", "screener"], line: str) -> bool:
        """Whether ``line`` is a person's, behind a menu or a screener.

        Its words tell at once (True); else the classifier is asked in the background.
        """
        if cue_of(line) is not None:
            return False
        if _PERSON.search(line):
            self._reached_person(behind)
            return True
        if self._classify is not None:
            self._tasks.spawn(self._ask_person(behind, line), name="answering-person")
        return False

    async def _ask_person(self, behind: Literal["menu", "screener"], line: str) -> None:
        assert self._classify is not None
        if await self._classify(line) == "human" and self._mode == behind:
            self._reached_person(behind)

    # -- helpers ---------------------------------------------------------------------------------

    def _reached_person(self, behind: str) -> None:
        self._person_reached = True
        self._mode = "conversation"
        self._event("person_reached", behind=behind)
        self._steer(self._instructions + PERSON_REACHED)
        self.floor.open(greet=False)

    def _steer(self, instructions: str) -> None:
        agent = self._agent
        if agent is not None:
            self._tasks.spawn(agent.update_instructions(instructions), name="answering-steer")

    def _interrupt(self) -> None:
        session = self._session
        if session is not None:
            with contextlib.suppress(RuntimeError):
                session.interrupt(force=True)

    async def _quiet(self) -> None:
        """Wait until the callee has been silent for ``QUIET`` seconds."""
        while self._speaking or (quiet_for := time.time() - self._silent_since) < QUIET:
            await self._changes(None if self._speaking else QUIET - quiet_for)

    async def _changes(self, timeout: float | None) -> None:  # noqa: ASYNC109
        """Wait for the callee's next change (speech, silence, words, a beep), or ``timeout``."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

"""The supervisor's side of a warm transfer: the briefing on the consultation leg, and the answer.

A second ``AgentSession`` runs on the leg's media (as the framework's ``WarmTransferTask``
does): its LLM briefs the supervisor from the conversation so far, following
``warm_transfer_summary_instructions`` (else ``DEFAULT_SUMMARY``), then asks whether they take
the call. They answer by voice (the LLM calls ``accept_transfer`` or ``decline_transfer``) or
with a key (``1`` takes the call, ``2`` declines). A voicemail (the LLM hears its greeting, or
the beep detector hears its tone), the supervisor hanging up, no answer within
``DECISION_TIMEOUT``, or the briefing session failing (a provider gave up) all count as nobody
taking the call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import numpy as np
from livekit import rtc
from livekit.agents import Agent, AgentSession, llm, stt
from livekit.agents.voice import io
from livekit.agents.voice.events import CloseEvent, ConversationItemAddedEvent

from ..answering.beep import BeepDetector
from ..media.output import CallAudioOutput
from ..providers import Providers
from ..telephony.port import ConsultationLeg
from .session import TurnOptions, build_session

ACCEPT_KEY = "1"
DECLINE_KEY = "2"
DECISION_TIMEOUT = 90.0
"""Seconds from the supervisor's answer to their decision; then nobody took the call."""

DEFAULT_SUMMARY = (
    "In two or three short sentences, say who is calling, why they are calling, and what was "
    "already done for them."
)
"""The briefing when the assistant has no ``warm_transfer_summary_instructions``."""

PERSONA = """You are {name}, an AI phone agent. You are now on a separate, private line with \
a human colleague: the caller cannot hear you. You asked this colleague to take over a call.

# Your task
1. Brief the colleague on the call: {summary}
2. Then ask whether they will take the call: they can say so, or press 1 to take it and 2 to \
decline.
3. Answer their questions about the call briefly, from the conversation below only.
4. When they agree to take the call, call `accept_transfer`. When they decline, call \
`decline_transfer` with their reason. If you reach a voicemail or an answering machine instead \
of a person, call `voicemail_detected` at once and say nothing.

Speak to the colleague, never to the caller. Keep it short: this is a phone call.

# The conversation with the caller so far
{history}"""

BRIEF_NOW = "Brief your colleague now, then ask whether they will take the call."

Decision = Literal["accepted", "declined", "voicemail", "hung_up", "undecided", "failed"]


@dataclass(frozen=True)
class SupervisorAnswer:
    """What the supervisor decided, and how it was known."""

    decision: Decision
    by: Literal["voice", "key", "beep", "line", "timeout", "error"]
    reason: str | None = None


DECISION_TOOLS = {
    "accepted": "accept_transfer",
    "declined": "decline_transfer",
    "voicemail": "voicemail_detected",
}
"""The briefing agent's tool of each decision said by voice."""


class BriefingTap(Protocol):
    """Shown what happens on the leg (a capture keeps it to replay the leg)."""

    def attach(self, session: AgentSession) -> None:
        """The briefing's session, before it starts."""
        ...

    def hear(self, frame: rtc.AudioFrame) -> None:
        """A frame of the colleague's audio, as the leg delivered it."""
        ...

    def key(self, key: str) -> None:
        """A key the colleague pressed."""
        ...

    def tool(self, name: str, arguments: dict[str, str]) -> None:
        """A decision tool the briefing LLM called."""
        ...


def briefing_instructions(
    *, assistant_name: str, summary: str | None, history: Sequence[tuple[str, str]]
) -> str:
    """The briefing agent's instructions: ``history`` is (role, text), role caller or agent."""
    lines = [f"{'Caller' if role == 'user' else 'You'}: {text}" for role, text in history]
    return PERSONA.format(
        name=assistant_name or "the assistant",
        summary=(summary or "").strip() or DEFAULT_SUMMARY,
        history="\n".join(lines) or "(nothing was said yet)",
    )


def conversation(items: Sequence[llm.ChatItem]) -> list[tuple[str, str]]:
    """The (role, text) of each caller and agent line of a chat history, in order."""
    return [
        (item.role, item.text_content)
        for item in items
        if isinstance(item, llm.ChatMessage)
        and item.role in ("user", "assistant")
        and item.text_content
    ]


class _SupervisorAgent(Agent):
    """The agent on the consultation leg: briefs, then records the decision it is told."""

    def __init__(self, instructions: str, decide: Callable[[SupervisorAnswer], None]) -> None:
        async def accept_transfer() -> llm.ToolResult:
            """Call when your colleague agrees to take the call."""
            decide(SupervisorAnswer("accepted", "voice"))
            return llm.ToolResult("Connecting them now.", reply_required=False)

        async def decline_transfer(reason: str) -> llm.ToolResult:
            """Call when your colleague declines to take the call.

            Args:
                reason: their reason, in a few words
            """
            decide(SupervisorAnswer("declined", "voice", reason or None))
            return llm.ToolResult("Declined.", reply_required=False)

        async def voicemail_detected() -> llm.ToolResult:
            """Call when a voicemail or answering machine answered instead of your colleague."""
            decide(SupervisorAnswer("voicemail", "voice", "a voicemail answered"))
            return llm.ToolResult("Voicemail.", reply_required=False)

        super().__init__(
            instructions=instructions,
            tools=[
                llm.function_tool(accept_transfer),
                llm.function_tool(decline_transfer),
                llm.function_tool(voicemail_detected),
            ],
        )

    async def on_enter(self) -> None:
        """Speak first: the briefing and the question."""
        self.session.generate_reply(instructions=BRIEF_NOW)


class _HeardInput(io.AudioInput):
    """The supervisor's audio on its way to the session, shown to ``listener`` first."""

    def __init__(self, source: io.AudioInput, listener: Callable[[rtc.AudioFrame], None]) -> None:
        super().__init__(label="SupervisorAudio", source=source)
        self._listener = listener

    async def __anext__(self) -> rtc.AudioFrame:
        frame = await super().__anext__()
        self._listener(frame)
        return frame


class Briefing:
    """One briefing of a supervisor on a consultation leg; ``run`` returns their answer."""

    def __init__(
        self,
        leg: ConsultationLeg,
        providers: Providers,
        *,
        instructions: str,
        turn: TurnOptions,
        stt_override: stt.STT | None = None,
        said: Callable[[str, str], None] | None = None,
        tap: BriefingTap | None = None,
    ) -> None:
        """Prepare the briefing of the colleague on ``leg``.

        ``stt_override`` hears them instead of the call's STT (replay's recorded transcripts);
        ``said`` is told (role, text) of each line of the briefing conversation; ``tap`` is
        shown the session, the colleague's audio and keys, and the tools the LLM called.
        """
        self._tap = tap
        self._leg = leg
        self._instructions = instructions
        self._said = said or (lambda role, text: None)
        text_llm = providers.aside_llm or providers.llm
        self._providers = replace(providers, stt=stt_override or providers.stt, llm=text_llm)
        self._turn = turn
        self._answer: asyncio.Future[SupervisorAnswer] = asyncio.get_running_loop().create_future()
        self._beeps: BeepDetector | None = None
        self._output: CallAudioOutput | None = None
        self._session: AgentSession | None = None

    def _decide(self, answer: SupervisorAnswer) -> None:
        if self._tap is not None and answer.by == "voice":
            reason = {"reason": answer.reason or ""} if answer.decision == "declined" else {}
            self._tap.tool(DECISION_TOOLS[answer.decision], reason)
        if not self._answer.done():
            self._answer.set_result(answer)

    def _key(self, key: str) -> None:
        if self._tap is not None:
            self._tap.key(key)
        if key == ACCEPT_KEY:
            self._decide(SupervisorAnswer("accepted", "key"))
        elif key == DECLINE_KEY:
            self._decide(SupervisorAnswer("declined", "key", "pressed 2"))

    def _hear(self, frame: rtc.AudioFrame) -> None:
        if self._tap is not None:
            self._tap.hear(frame)
        if self._beeps is None:
            self._beeps = BeepDetector(frame.sample_rate)  # a leg's audio keeps one rate
        samples = np.frombuffer(frame.data, dtype=np.int16)
        if frame.num_channels > 1:
            samples = samples.reshape(-1, frame.num_channels)[:, 0]
        if self._beeps.push(samples) is not None:
            self._decide(SupervisorAnswer("voicemail", "beep", "a voicemail's beep"))

    def _on_item(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if isinstance(item, llm.ChatMessage) and item.role in ("user", "assistant"):
            text = item.text_content or ""
            if text.strip():
                self._said("supervisor" if item.role == "user" else "agent", text)

    def _on_close(self, ev: CloseEvent) -> None:
        if ev.error is not None:  # a provider gave up: nobody can brief the colleague
            self._decide(SupervisorAnswer("failed", "error", "the briefing failed"))

    async def run(self, *, within: float = DECISION_TIMEOUT) -> SupervisorAnswer:
        """Brief the supervisor and return their answer (the session is stopped by then)."""
        leg = self._leg
        media = leg.media
        output = self._output = CallAudioOutput(media.sink, sample_rate=media.sample_rate)
        session = self._session = build_session(self._providers, self._turn)
        session.input.audio = _HeardInput(media.caller_audio, self._hear)
        session.output.audio = output
        session.on("conversation_item_added", self._on_item)
        session.on("close", self._on_close)
        if self._tap is not None:
            self._tap.attach(session)
        leg.on_keys(self._key)
        output.start()
        hung_up: asyncio.Future[None] = asyncio.ensure_future(leg.wait_for_hangup())
        try:
            await session.start(_SupervisorAgent(self._instructions, self._decide), record=False)
            waiting: set[asyncio.Future[Any]] = {self._answer, hung_up}
            done, _ = await asyncio.wait(
                waiting, timeout=within, return_when=asyncio.FIRST_COMPLETED
            )
            if self._answer.done():
                return self._answer.result()
            if hung_up in done:
                return SupervisorAnswer("hung_up", "line", "the colleague hung up")
            return SupervisorAnswer("undecided", "timeout", "no answer to the question")
        finally:
            hung_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hung_up
            await self.aclose()

    async def aclose(self) -> None:
        """Stop the briefing session and its output (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):
                session.input.set_audio_enabled(False)
                session.interrupt(force=True)
            with contextlib.suppress(Exception):
                await session.aclose()
        output, self._output = self._output, None
        if output is not None:
            await output.aclose()

"""The colleague's leg of a warm transfer in a call script (``make-call``).

The script's ``colleague`` says how the colleague answered the consultation call (after
``ring`` seconds, or a SIP refusal, or nobody) and, when they answered, the leg line by line:
the agent's briefing and answers (the consultation LLM's recorded answers), what the colleague
says (text spoken by espeak-ng in their own voice, or a WAV file), the keys they press and
when they hang up. Everything on the leg is timed from their answer, as ``supervisor.wav`` is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..call.briefing import ACCEPT_KEY, DECLINE_KEY
from ..call.warm_transfer import TransferOutcome, outcome_of_dial
from ..errors import Problem
from ..offline_tts import SAMPLE_RATE
from ..telephony.dtmf import KEY_GAP, check_keys
from ..telephony.recorded import recorded_refusal

LEG_TOOLS: dict[str, TransferOutcome] = {
    "accept_transfer": "connected",
    "decline_transfer": "declined",
    "voicemail_detected": "voicemail",
}
"""The tools of the briefing agent, and the transfer outcome each decides."""
BRIEFING_TOOL = "accept_transfer"
"""The tool every request on the leg offers: how ``llm.json`` tells them from the caller's."""


class ColleagueLine(BaseModel):
    """One line of the leg: the colleague speaks or presses keys or hangs up, or the agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    colleague: str | None = Field(default=None, description="What the colleague says.")
    wav: str | None = Field(default=None, description="Their line as a WAV file.")
    pause: float = Field(default=1.0, ge=0, description="Seconds of silence before the line.")
    agent: str | None = Field(default=None, description="What the agent says on the leg.")
    tool: str | None = Field(default=None, description="A tool the agent calls on the leg.")
    arguments: dict[str, Any] = Field(default_factory=dict)
    keys: str | None = Field(default=None, description="Keys the colleague presses, e.g. `2`.")
    hangup: Literal[True] | None = Field(default=None, description="The colleague hangs up.")

    @model_validator(mode="after")
    def _one_kind(self) -> ColleagueLine:
        kinds = ("colleague", "agent", "tool", "keys", "hangup")
        if len([k for k in kinds if getattr(self, k) is not None]) != 1:
            raise ValueError("each line has exactly one of colleague, agent, tool, keys, hangup")
        if self.wav is not None and self.colleague is None:
            raise ValueError("a wav line needs `colleague`: what is said in it")
        if self.tool is not None and self.tool not in LEG_TOOLS:
            raise ValueError(f"the tools on the leg are {', '.join(LEG_TOOLS)}")
        if self.keys is not None:
            check_keys(self.keys)
        return self


class Colleague(BaseModel):
    """How the colleague of a warm transfer answered, and their leg."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ring: float = Field(default=3.0, ge=0, description="Seconds it rang before the outcome.")
    answered: bool = True
    sip_status: int | None = Field(default=None, ge=100, le=699)
    sip_reason: str | None = None
    voice: str = Field(default="en-us+m3", description="The espeak-ng voice of their lines.")
    lines: list[ColleagueLine] = Field(default_factory=list)


Speak = Callable[[ColleagueLine, str], npt.NDArray[np.float32]]
"""The audio of a colleague line (its JSON path given for errors)."""


@dataclass
class Leg:
    """What the colleague's leg makes of the recorded call."""

    outcome: TransferOutcome
    answered: bool = True
    """The colleague answered (else the outcome is the dial's: no answer, busy...)."""
    decided_at: float = 0.0
    """Seconds from the colleague's answer (or from the dial when not answered) to the outcome."""
    audio: list[tuple[float, npt.NDArray[np.float32]]] = field(default_factory=list)
    utterances: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)
    hangup_at: float | None = None
    end: float = 0.0
    """When the colleague's last line ends."""

    def consult(self, colleague: Colleague) -> dict[str, Any]:
        """``phone.json`` ``consult``."""
        consult: dict[str, Any] = {"ring": colleague.ring, "answered": colleague.answered}
        if colleague.sip_status is not None:
            consult["sip_status"] = colleague.sip_status
        if colleague.sip_reason is not None:
            consult["sip_reason"] = colleague.sip_reason
        if self.keys:
            consult["keys"] = self.keys
        if self.hangup_at is not None:
            consult["hangup_at"] = round(self.hangup_at, 3)
        return consult


def not_answered(colleague: Colleague, ring_timeout: float) -> TransferOutcome | None:
    """The outcome of a consultation call nobody answered (None: the colleague answered)."""
    failure = recorded_refusal(
        colleague.ring,
        colleague.answered,
        colleague.sip_status,
        colleague.sip_reason,
        ring_timeout,
    )
    return None if failure is None else outcome_of_dial(failure)


def build_leg(
    colleague: Colleague,
    *,
    ring_timeout: float,
    answer_time: float,
    spoken: Callable[[str], float],
    speak: Speak,
) -> tuple[Leg, list[Problem]]:
    """Place the colleague's leg on their timeline; the leg, and what is wrong with it."""
    refused = not_answered(colleague, ring_timeout)
    if refused is not None:
        leg = Leg(refused, answered=False, decided_at=min(colleague.ring, ring_timeout))
        if colleague.lines:
            return leg, [
                Problem("$.colleague.lines", "a colleague who did not answer says nothing")
            ]
        return leg, []
    if not colleague.lines or colleague.lines[0].agent is None:
        problem = Problem("$.colleague.lines[0]", "the leg starts with the agent's briefing")
        return Leg("failed"), [problem]
    return _place(colleague, answer_time, spoken, speak)


def _place(
    colleague: Colleague, answer_time: float, spoken: Callable[[str], float], speak: Speak
) -> tuple[Leg, list[Problem]]:
    leg = Leg("declined")
    decided: TransferOutcome | None = None
    agent_free = 0.0
    heard: str | None = None
    open_answer: dict[str, Any] | None = None
    for index, line in enumerate(colleague.lines):
        where = f"$.colleague.lines[{index}]"
        if decided is not None and (decided != "connected" or line.agent or line.tool):
            why = "the agent's part on the leg ends" if decided == "connected" else "it hangs up"
            return leg, [Problem(where, f"after the colleague's decision {why}")]
        start = max(agent_free, leg.end) + line.pause
        if line.agent is not None:
            when = {"greeting": True} if heard is None else {"user_contains": heard}
            open_answer = {"when": {**when, "offers_tool": BRIEFING_TOOL}, "text": line.agent}
            leg.answers.append(open_answer)
            agent_free = max(agent_free, leg.end) + answer_time + spoken(line.agent)
        elif line.tool is not None:
            call = {"name": line.tool, "arguments": line.arguments} if line.arguments else None
            tool_call = call or {"name": line.tool}
            if open_answer is not None:
                open_answer.setdefault("tool_calls", []).append(tool_call)
            else:
                when = {"greeting": True} if heard is None else {"user_contains": heard}
                answer = {"when": {**when, "offers_tool": BRIEFING_TOOL}, "tool_calls": [tool_call]}
                leg.answers.append(answer)
                agent_free = max(agent_free, leg.end) + answer_time
            decided, leg.decided_at = LEG_TOOLS[line.tool], agent_free
        elif line.colleague is not None:
            audio = speak(line, where)
            end = start + audio.size / SAMPLE_RATE
            leg.audio.append((start, audio))
            leg.utterances.append(
                {"start": round(start, 3), "end": round(end, 3), "text": line.colleague}
            )
            heard, open_answer, leg.end = line.colleague, None, end
        elif line.keys is not None:
            leg.keys.append({"at": round(start, 3), "keys": line.keys, "gap": KEY_GAP})
            leg.end = start + KEY_GAP * (len(line.keys) - 1)
            decided, leg.decided_at = _key_decision(line.keys, start)
        else:
            leg.hangup_at = leg.end = start
            if decided is None:
                decided, leg.decided_at = "declined", start
    if decided is None:
        problem = Problem(
            "$.colleague.lines",
            "the colleague never decides: end with accept_transfer, decline_transfer, "
            "voicemail_detected, a key 1 or 2, or a hangup",
        )
        return leg, [problem]
    leg.outcome = decided
    return leg, []


def _key_decision(keys: str, at: float) -> tuple[TransferOutcome | None, float]:
    for index, key in enumerate(keys):
        if key in (ACCEPT_KEY, DECLINE_KEY):
            outcome: TransferOutcome = "connected" if key == ACCEPT_KEY else "declined"
            return outcome, at + KEY_GAP * index
    return None, 0.0

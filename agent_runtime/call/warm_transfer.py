"""Warm transfer: the caller on hold, a colleague dialled and briefed, then connected or not.

The flow, once the agent has said its transfer line:

1. The caller hears hold music (never silence); what they say is kept in the transcript but not
   answered (the floor is held).
2. The transfer number is dialled into a consultation leg the caller cannot hear
   (``TelephonyPort.consult``), ringing at most ``ring_timeout`` seconds.
3. The colleague is briefed there and answers (``briefing.Briefing``).
4. Accepted: the legs are connected (``TelephonyPort.connect``) and the result holds the leg.
   Anything else: the leg is hung up, the hold music stops and the caller's turns are answered
   again; the result says why (the runner then has the agent tell the caller).

Each attempt ends with one ``transfer`` event: ``outcome`` ``connected``, ``declined``,
``no_answer``, ``busy``, ``voicemail``, ``failed`` or ``cancelled`` (the call ended first: the
leg is hung up, whatever its state).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..errors import DialFailed, TelephonyError
from ..log import logger
from ..media.hold import HoldMusic
from ..telephony.port import ConsultationLeg, TelephonyPort
from .briefing import Briefing, SupervisorAnswer
from .floor import Floor

TransferOutcome = Literal[
    "connected", "declined", "no_answer", "busy", "voicemail", "failed", "cancelled"
]
EventSink = Callable[..., None]


SIP_DECLINE = 603


@dataclass(frozen=True)
class WarmResult:
    """How a warm transfer ended; ``leg`` is the connected colleague's leg when it worked."""

    outcome: TransferOutcome
    reason: str | None = None
    leg: ConsultationLeg | None = None


def outcome_of_dial(failure: DialFailed) -> TransferOutcome:
    """The transfer outcome of a consultation call that was not answered.

    A colleague who rejects the ringing call on their phone (SIP 603 Decline) declined it.
    """
    if failure.sip_status == SIP_DECLINE:
        return "declined"
    if failure.dial_error in ("no_answer", "busy"):
        return failure.dial_error
    return "failed"


def outcome_of_answer(answer: SupervisorAnswer) -> TransferOutcome:
    """The transfer outcome of the colleague's answer to the briefing."""
    match answer.decision:
        case "accepted":
            return "connected"
        case "voicemail":
            return "voicemail"
        case "failed":
            return "failed"
        case _:
            return "declined"  # said no, hung up, or never said


class WarmTransfer:
    """One warm transfer attempt of a call (``run`` once)."""

    def __init__(
        self,
        telephony: TelephonyPort,
        *,
        hold: HoldMusic,
        floor: Floor,
        brief: Callable[[ConsultationLeg], Briefing],
        event: EventSink,
        offset: Callable[[float], float],
        ring_timeout: float,
    ) -> None:
        """Prepare the transfer.

        ``brief`` makes the briefing of an answered leg; ``event`` records report events;
        ``offset`` turns a wall time into seconds from the call's start.
        """
        self._telephony = telephony
        self._hold = hold
        self._floor = floor
        self._brief = brief
        self._event = event
        self._offset = offset
        self._ring_timeout = ring_timeout

    async def run(self, to: str) -> WarmResult:
        """Hold the caller, consult ``to``, and connect or come back; see the module."""
        self._floor.hold()
        self._hold.start()
        started = time.time()
        details: dict[str, str | float | None] = {}
        result = WarmResult("cancelled", "the call ended during the transfer")
        try:
            result = await self._attempt(to, started, details)
        except Exception as err:  # a fault of ours: the caller must not stay on hold for it
            logger.exception("warm transfer failed")
            result = WarmResult("failed", f"an internal error ({type(err).__name__})")
        finally:
            self._hold.stop()
            if result.leg is None:
                self._floor.release()
            self._event(
                "transfer",
                mode="warm",
                outcome=result.outcome,
                reason=result.reason,
                seconds=round(time.time() - started, 3),
                **details,
            )
        return result

    async def _attempt(
        self, to: str, started: float, details: dict[str, str | float | None]
    ) -> WarmResult:
        try:
            leg = await self._telephony.consult(to, ring_timeout=self._ring_timeout)
        except DialFailed as failure:
            details["sip_status"] = failure.sip_status
            return WarmResult(outcome_of_dial(failure), str(failure))
        except TelephonyError as failure:
            return WarmResult("failed", getattr(failure, "reason", None) or str(failure))
        details["answered_at"] = self._offset(leg.answered_at)
        details["ring_seconds"] = round(max(0.0, leg.answered_at - started), 3)
        self._event("transfer_answered", answered_at=details["answered_at"])
        connected = False
        try:
            answer = await self._brief(leg).run()
            details["decided_by"] = answer.by
            outcome = outcome_of_answer(answer)
            if outcome != "connected":
                return WarmResult(outcome, answer.reason)
            try:
                await self._telephony.connect(leg)
            except TelephonyError as failure:
                return WarmResult("failed", f"the legs could not be connected: {failure}")
            connected = True
            return WarmResult("connected", None, leg)
        finally:
            if not connected:
                await asyncio.shield(leg.hang_up())


WHY_NOBODY: dict[TransferOutcome, str] = {
    "declined": "your colleague could not take the call",
    "no_answer": "nobody answered",
    "busy": "the line was busy",
    "voicemail": "you only reached a voicemail",
    "failed": "the call to your colleague did not go through",
    "cancelled": "the transfer was stopped",
}

COME_BACK = (
    "You tried to connect the caller with a colleague while they were on hold, but {why}. "
    "Tell the caller plainly, in one or two short sentences, that nobody could take the call "
    "right now, then offer to take a message or to have someone call them back, and keep "
    "helping them."
)


def come_back_instructions(result: WarmResult) -> str:
    """What the agent is told to say when it comes back to the caller after ``result``."""
    return COME_BACK.format(why=WHY_NOBODY.get(result.outcome, WHY_NOBODY["failed"]))

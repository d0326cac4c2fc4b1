"""The phone line of a recorded call: what ``phone.json`` says the line did.

- ``dial``: how an outbound call was answered: after ``ring`` seconds, or not at all (the SIP
  ``sip_status`` of the failure, or none: nobody answered before the ringing timeout).
- ``keys``: keys the person on the line pressed, at times of ``caller.wav``.
- ``transfer``: how the transfer target answered a transfer request.
- ``consult``: how the colleague a warm transfer calls answered (after ``ring`` seconds, or not
  at all), the keys they pressed and when they hung up, in times of their own audio (the
  recorded party ``consultation`` gives, replay's ``supervisor.wav``).

An inbound call is answered at once. Without ``phone.json`` an outbound call is answered at
once too, no key is pressed, and a transfer or a consultation is refused (none was recorded).
The person on the line hangs up when ``hung_up`` is set (the recorded hang-up time). What the
agent did on the line is kept: ``sent_keys``, ``transfers``, ``legs`` (each consultation leg:
when it was connected or hung up), ``hung_up_at`` (in caller-audio time).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ..errors import DialFailed, TelephonyError, TransferFailed
from ..tasks import TaskSet
from .dial_errors import dial_error_of, refusal_words
from .dtmf import KEY_GAP, PAUSE, PAUSE_SECONDS, check_keys
from .port import ConsultationLeg, KeyListener, SipParticipant

if TYPE_CHECKING:
    from ..media.ports import MediaPort

DEFAULT_RINGING_TIMEOUT = 30.0


class RecordedDial(BaseModel):
    """How the far end answered an outbound call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ring: float = Field(default=0.0, ge=0, description="Seconds it rang before the outcome.")
    answered: bool = True
    sip_status: int | None = Field(
        default=None, ge=100, le=699, description="The SIP final response of a call not answered."
    )
    sip_reason: str | None = None


class RecordedKeys(BaseModel):
    """Keys the person on the line pressed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: float = Field(ge=0, description="Seconds into caller.wav of the first key.")
    keys: str = Field(min_length=1)
    gap: float = Field(default=0.3, ge=0, description="Seconds between two keys.")


class RecordedTransfer(BaseModel):
    """How the transfer target answered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accepted: bool = True
    after: float = Field(default=2.0, ge=0, description="Seconds until the outcome.")
    sip_status: int | None = Field(default=None, ge=100, le=699)
    sip_reason: str | None = None


class RecordedConsult(BaseModel):
    """How the colleague a warm transfer called answered, and what they did on their leg."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ring: float = Field(default=3.0, ge=0, description="Seconds it rang before the outcome.")
    answered: bool = True
    sip_status: int | None = Field(
        default=None, ge=100, le=699, description="The SIP final response of a call not answered."
    )
    sip_reason: str | None = None
    keys: list[RecordedKeys] = Field(
        default_factory=list, description="Keys they pressed, at times of their own audio."
    )
    hangup_at: float | None = Field(
        default=None, ge=0, description="Seconds into their audio when they hang up (none: never)."
    )


class PhoneScript(BaseModel):
    """``phone.json``: what the phone line did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dial: RecordedDial = Field(default_factory=RecordedDial)
    keys: list[RecordedKeys] = Field(default_factory=list)
    transfer: RecordedTransfer | None = None
    consult: RecordedConsult | None = None


class RecordedParty(Protocol):
    """The recorded audio of a second party (the colleague), played as the call plays it."""

    @property
    def media(self) -> MediaPort:
        """Their voice in, what they hear out."""
        ...

    @property
    def hung_up(self) -> asyncio.Event:
        """Set when their recorded audio reaches their hang-up time."""
        ...

    def playhead(self) -> float:
        """Seconds of their audio played so far."""
        ...

    async def reached(self, seconds: float) -> None:
        """Return once ``seconds`` of their audio have played."""
        ...


def recorded_refusal(
    ring: float, answered: bool, sip_status: int | None, sip_reason: str | None, timeout: float
) -> DialFailed | None:
    """Why a recorded call was not answered (None: it was), given the ringing timeout."""
    if ring >= timeout or (not answered and sip_status is None):
        return DialFailed(
            f"nobody answered within {min(ring, timeout):g} s", dial_error="no_answer"
        )
    if answered:
        return None
    return DialFailed(
        f"the call was refused: SIP {sip_status}",
        dial_error=dial_error_of(sip_status, sip_reason),
        sip_status=sip_status,
        sip_reason=sip_reason,
    )


async def _press(
    reached: Callable[[float], Awaitable[None]], pressed: RecordedKeys, listener: KeyListener
) -> None:
    """Press the recorded ``pressed`` keys to ``listener`` once their time is reached."""
    await reached(pressed.at)
    for index, key in enumerate(check_keys(pressed.keys)):
        if index:
            await asyncio.sleep(pressed.gap)
        listener(key)


class RecordedLeg:
    """A consultation leg of a replayed call: the colleague's recorded audio and keys."""

    def __init__(self, party: RecordedParty, script: RecordedConsult, *, to: str) -> None:
        self.to = to
        self._party = party
        self._script = script
        self._answered_at = time.time()
        self._ended = asyncio.Event()
        self._tasks = TaskSet()
        self.connected_at: float | None = None
        """Seconds into the colleague's audio at which the leg was connected to the caller."""
        self.hung_up_at: float | None = None
        """Seconds into the colleague's audio at which the runtime hung the leg up."""

    @property
    def media(self) -> MediaPort:
        """The colleague's recorded voice, and what they heard."""
        return self._party.media

    @property
    def answered_at(self) -> float:
        """When the colleague answered."""
        return self._answered_at

    def on_keys(self, listener: KeyListener) -> None:
        """Press the colleague's recorded keys to ``listener`` at their times."""
        for pressed in self._script.keys:
            self._tasks.spawn(_press(self._party.reached, pressed, listener), name="leg-keys")

    async def wait_for_hangup(self) -> None:
        """Return when the colleague hangs up (their recorded time) or the leg was hung up."""
        ended = asyncio.ensure_future(self._ended.wait())
        left = asyncio.ensure_future(self._party.hung_up.wait())
        try:
            await asyncio.wait({ended, left}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (ended, left):
                waiter.cancel()
            await asyncio.gather(ended, left, return_exceptions=True)

    async def hang_up(self) -> None:
        """Note when the leg was hung up (idempotent)."""
        if self.hung_up_at is None:
            self.hung_up_at = self._party.playhead()
        self._ended.set()
        await self._tasks.aclose()

    def playhead(self) -> float:
        """Seconds of the colleague's audio played so far."""
        return self._party.playhead()

    async def aclose(self) -> None:
        """Stop pressing the colleague's keys."""
        await self._tasks.aclose()


class RecordedLine:
    """The ``TelephonyPort`` of a replayed call."""

    def __init__(
        self,
        script: PhoneScript,
        *,
        hung_up: asyncio.Event,
        playhead: Callable[[], float],
        reached: Callable[[float], Awaitable[None]],
        participant: SipParticipant | None = None,
        outbound: bool = False,
        ringing_timeout: float = DEFAULT_RINGING_TIMEOUT,
        consultation: Callable[[float], RecordedParty] | None = None,
    ) -> None:
        """``outbound``: the call is dialled as ``script.dial`` says; else it is answered.

        ``consultation`` plays the colleague's recorded audio when a consultation leg is
        answered (given their hang-up time; ``inf``: never), or None: a consultation is refused.
        """
        self._script = script
        self._outbound = outbound
        self._hung_up = hung_up
        self._playhead = playhead
        self._reached = reached
        self._participant = participant
        self._ringing_timeout = ringing_timeout
        self._listeners: list[KeyListener] = []
        self._sent_listeners: list[KeyListener] = []
        self._tasks = TaskSet()
        self._answered_at: float | None = None
        self.sent_keys: list[tuple[float, str]] = []
        """(caller-audio time, keys) of each request to send keys."""
        self.transfers: list[str] = []
        self._consultation = consultation
        self.consults: list[str] = []
        """The numbers a consultation leg was asked for."""
        self.legs: list[RecordedLeg] = []
        """The consultation legs that were answered."""
        self.hung_up_at: float | None = None
        """Caller-audio time at which the runtime hung up, if it did."""

    @property
    def participant(self) -> SipParticipant | None:
        """The recorded caller's participant."""
        return self._participant

    async def wait_for_answer(self, *, ringing: Callable[[], None]) -> float:
        """Ring as recorded; the answer time, or ``DialFailed``."""
        if self._answered_at is not None or not self._outbound:
            self._answered_at = self._answered_at or time.time()
            return self._answered_at
        dial = self._script.dial
        ringing()
        await asyncio.sleep(min(dial.ring, self._ringing_timeout))
        failure = recorded_refusal(
            dial.ring, dial.answered, dial.sip_status, dial.sip_reason, self._ringing_timeout
        )
        if failure is not None:
            raise failure
        self._answered_at = time.time()
        return self._answered_at

    async def wait_for_hangup(self) -> None:
        """Return when the recorded caller hangs up."""
        await self._hung_up.wait()

    async def hang_up(self) -> None:
        """Note when the runtime hung up; every consultation leg is hung up with the call."""
        if self.hung_up_at is None:
            self.hung_up_at = self._playhead()
        for leg in self.legs:
            await leg.hang_up()

    async def send_keys(self, keys: str) -> None:
        """Note the keys and take the time they take to send."""
        checked = check_keys(keys)
        self.sent_keys.append((self._playhead(), checked))
        for key in checked:
            await asyncio.sleep(PAUSE_SECONDS if key == PAUSE else KEY_GAP)
        for listener in self._sent_listeners:
            listener(checked)

    def on_keys_sent(self, listener: KeyListener) -> None:
        """Call ``listener`` with each string of keys sent."""
        self._sent_listeners.append(listener)

    def on_keys(self, listener: KeyListener) -> None:
        """Press the recorded keys to ``listener`` at their times."""
        if not self._listeners:
            for pressed in self._script.keys:
                self._tasks.spawn(_press(self._reached, pressed, self._press), name="recorded-keys")
        self._listeners.append(listener)

    def _press(self, key: str) -> None:
        for listener in self._listeners:
            listener(key)

    async def transfer(self, to: str) -> None:
        """Answer as the recorded transfer target did."""
        self.transfers.append(to)
        outcome = self._script.transfer
        if outcome is None:
            raise TransferFailed("no transfer answer was recorded", reason="nobody answered")
        await asyncio.sleep(outcome.after)
        if not outcome.accepted:
            raise TransferFailed(
                f"the transfer was refused: SIP {outcome.sip_status}",
                reason=refusal_words(outcome.sip_status, outcome.sip_reason),
                sip_status=outcome.sip_status,
                sip_reason=outcome.sip_reason,
            )

    async def consult(self, to: str, *, ring_timeout: float) -> ConsultationLeg:
        """Ring the colleague as ``phone.json`` ``consult`` says; their leg, or ``DialFailed``."""
        self.consults.append(to)
        script = self._script.consult
        if script is None or self._consultation is None:
            raise TransferFailed("no consultation answer was recorded", reason="nobody answered")
        await asyncio.sleep(min(script.ring, ring_timeout))
        failure = recorded_refusal(
            script.ring, script.answered, script.sip_status, script.sip_reason, ring_timeout
        )
        if failure is not None:
            raise failure
        party = self._consultation(math.inf if script.hangup_at is None else script.hangup_at)
        leg = RecordedLeg(party, script, to=to)
        self.legs.append(leg)
        return leg

    async def connect(self, leg: ConsultationLeg) -> None:
        """Note that the caller and the colleague were connected."""
        if not isinstance(leg, RecordedLeg) or leg not in self.legs:
            raise TelephonyError("this leg is not one of this call's")
        if leg.hung_up_at is not None:
            raise TelephonyError("the colleague's leg was hung up")
        leg.connected_at = leg.playhead()

    def leg_playhead(self) -> float:
        """Seconds of the latest consultation leg's audio played so far (0 before any)."""
        return self.legs[-1].playhead() if self.legs else 0.0

    async def aclose(self) -> None:
        """Stop pressing keys, on the line and on its legs."""
        await self._tasks.aclose()
        for leg in self.legs:
            await leg.aclose()

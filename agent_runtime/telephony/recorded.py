"""The phone line of a recorded call: what ``phone.json`` says the line did.

- ``dial``: how an outbound call was answered: after ``ring`` seconds, or not at all (the SIP
  ``sip_status`` of the failure, or none: nobody answered before the ringing timeout).
- ``keys``: keys the person on the line pressed, at times of ``caller.wav``.
- ``transfer``: how the transfer target answered a transfer request.

An inbound call is answered at once. Without ``phone.json`` an outbound call is answered at
once too, no key is pressed, and a transfer is refused (none was recorded). The person on the
line hangs up when ``hung_up`` is set (the recorded hang-up time). What the agent did on the
line is kept: ``sent_keys``, ``transfers``, ``hung_up_at`` (in caller-audio time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ConfigDict, Field

from ..errors import DialFailed, TransferFailed
from ..tasks import TaskSet
from .dial_errors import dial_error_of, refusal_words
from .dtmf import KEY_GAP, PAUSE, PAUSE_SECONDS, check_keys
from .port import KeyListener, SipParticipant

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


class PhoneScript(BaseModel):
    """``phone.json``: what the phone line did."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dial: RecordedDial = Field(default_factory=RecordedDial)
    keys: list[RecordedKeys] = Field(default_factory=list)
    transfer: RecordedTransfer | None = None


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
    ) -> None:
        """``outbound``: the call is dialled as ``script.dial`` says; else it is answered."""
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
        timed_out = dial.ring >= self._ringing_timeout
        await asyncio.sleep(min(dial.ring, self._ringing_timeout))
        if timed_out or not dial.answered:
            if dial.sip_status is None or timed_out:
                raise DialFailed(
                    f"nobody answered within {min(dial.ring, self._ringing_timeout):g} s",
                    dial_error="no_answer",
                )
            raise DialFailed(
                f"the call was refused: SIP {dial.sip_status}",
                dial_error=dial_error_of(dial.sip_status, dial.sip_reason),
                sip_status=dial.sip_status,
                sip_reason=dial.sip_reason,
            )
        self._answered_at = time.time()
        return self._answered_at

    async def wait_for_hangup(self) -> None:
        """Return when the recorded caller hangs up."""
        await self._hung_up.wait()

    async def hang_up(self) -> None:
        """Note when the runtime hung up."""
        if self.hung_up_at is None:
            self.hung_up_at = self._playhead()

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
                self._tasks.spawn(self._press(pressed), name="recorded-keys")
        self._listeners.append(listener)

    async def _press(self, pressed: RecordedKeys) -> None:
        await self._reached(pressed.at)
        for index, key in enumerate(check_keys(pressed.keys)):
            if index:
                await asyncio.sleep(pressed.gap)
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

    async def aclose(self) -> None:
        """Stop pressing keys."""
        await self._tasks.aclose()

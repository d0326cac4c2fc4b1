"""Text messages of a call: length rules, the provider interface, and at-most-once sending.

``SmsOutbox`` is what the in-call ``send_sms`` tool, the voicemail SMS and the after-call SMS
use: it checks the number (E.164) and the length (segments), sends through an ``SmsSender``
(Twilio today; Telnyx or an HTTP gateway implement the same protocol), never sends the same
text to the same number twice in a call, and records each outcome as a call event. Events and
logs carry the provider's message id and segment count, never the number or the text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from pydantic import Field

from ..config.phone import to_e164
from ..errors import ToolError
from ..log import logger
from ..settings import EnvModel
from .once import AtMostOnce

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
"""The GSM 03.38 default alphabet: one septet each."""
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
"""Characters of the GSM extension table: two septets each (escape + character)."""
_PLAIN = str.maketrans(
    {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "\u00a0": " "}
)


def plain_text(text: str) -> str:
    """``text`` with typographic quotes, dashes and ellipses made plain (they force UCS-2)."""
    return text.translate(_PLAIN).strip()


@dataclass(frozen=True)
class Segments:
    """How a text travels: its encoding, its length in code units, and its segment count."""

    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    count: int


def measure(text: str) -> Segments:
    """The segments ``text`` is sent in: 160/153 septets (GSM-7) or 70/67 UTF-16 units (UCS-2).

    A character is never split across two segments (an escaped GSM character, a surrogate pair).
    """
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        encoding: Literal["GSM-7", "UCS-2"] = "GSM-7"
        sizes = [2 if c in GSM7_EXTENDED else 1 for c in text]
        single, part = 160, 153
    else:
        encoding = "UCS-2"
        sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, part = 70, 67
    units = sum(sizes)
    if units <= single:
        return Segments(encoding, units, 1 if units else 0)
    count, used = 1, 0
    for size in sizes:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return Segments(encoding, units, count)


@dataclass(frozen=True)
class SmsReceipt:
    """A message the provider accepted."""

    message_id: str
    segments: int
    repeated: bool = False
    """True when this request repeated an earlier one of the call and nothing new was sent."""


class SmsSender(Protocol):
    """An SMS provider. Raises ``ToolError`` with a message fit for the LLM."""

    @property
    def name(self) -> str:
        """The provider's name, for the call report (``twilio``)."""
        ...

    async def send(self, *, to: str, sender: str, body: str) -> SmsReceipt:
        """Send ``body`` from ``sender`` to ``to`` (both E.164) once: never retry if unsure."""
        ...


class EventSink(Protocol):
    """Records a call event (``CallControl.event``)."""

    def __call__(self, type: str, **detail: str | int | float | bool | None) -> None:
        """Record event ``type`` with ``detail``."""
        ...


class SmsLimits(EnvModel):
    """How long a message and how many messages a call may send.

    ``SMS_MAX_SEGMENTS`` and ``SMS_MAX_PER_CALL``.
    """

    max_segments: int = Field(10, gt=0, alias="SMS_MAX_SEGMENTS")
    max_per_call: int = Field(3, ge=0, alias="SMS_MAX_PER_CALL")


class SmsOutbox:
    """The text messages of one call, each sent at most once and recorded as an event."""

    def __init__(
        self,
        sender: SmsSender,
        *,
        from_number: str,
        events: EventSink,
        limits: SmsLimits | None = None,
    ) -> None:
        self._sender = sender
        self._from = from_number
        self._events = events
        self._limits = limits or SmsLimits()
        self._once: AtMostOnce[SmsReceipt] = AtMostOnce()
        self._attempts = 0

    async def send(self, to: str | None, body: str, *, purpose: str = "tool") -> SmsReceipt:
        """Send ``body`` to ``to``; a repeat of an earlier request returns its outcome.

        ``purpose`` names the flow in the report (``tool``, ``voicemail``, ``after_call``).
        Raises ``ToolError`` (recorded as an ``sms_failed`` event).
        """
        try:
            number, text = self._check(to, body)
        except ToolError as err:
            self._failed(err, purpose)
            raise
        key = hashlib.sha256(f"{number}\n{text}".encode()).hexdigest()
        repeated = self._once.started(key)
        try:
            receipt = await self._once.run(key, lambda: self._deliver(number, text, purpose))
        except ToolError as err:
            if repeated:
                self._events("sms_not_resent", code=err.code, purpose=purpose)
            raise
        if repeated:
            self._events("sms_not_resent", message_sid=receipt.message_id, purpose=purpose)
            return replace(receipt, repeated=True)
        return receipt

    def _check(self, to: str | None, body: str) -> tuple[str, str]:
        try:
            number = to_e164(to or "")
        except ValueError:
            raise ToolError(
                "There is no valid mobile number to text on this call.", code="invalid_number"
            ) from None
        text = body.strip()
        if not text:
            raise ToolError("The message is empty.", code="empty")
        size = measure(text)
        limit = self._limits.max_segments
        if size.count > limit:
            per_segment = 153 if size.encoding == "GSM-7" else 67
            raise ToolError(
                f"The message is too long ({size.count} text segments, at most {limit}): "
                f"shorten it to under {limit * per_segment} characters.",
                code="too_long",
            )
        return number, text

    async def _deliver(self, to: str, text: str, purpose: str) -> SmsReceipt:
        if self._attempts >= self._limits.max_per_call:
            error = ToolError(
                f"At most {self._limits.max_per_call} text messages can be sent in one call.",
                code="call_limit",
            )
            self._failed(error, purpose)
            raise error
        self._attempts += 1
        try:
            receipt = await self._sender.send(to=to, sender=self._from, body=text)
        except ToolError as err:
            if not err.maybe_done:
                self._attempts -= 1
            self._failed(err, purpose)
            raise
        self._events(
            "sms_sent",
            provider=self._sender.name,
            message_sid=receipt.message_id,
            segments=receipt.segments,
            encoding=measure(text).encoding,
            purpose=purpose,
        )
        logger.info("sms %s sent (%d segments)", receipt.message_id, receipt.segments)
        return receipt

    def _failed(self, error: ToolError, purpose: str) -> None:
        self._events(
            "sms_failed",
            provider=self._sender.name,
            code=error.code,
            maybe_sent=error.maybe_done,
            purpose=purpose,
        )
        logger.warning("sms not sent: %s (maybe sent: %s)", error.code, error.maybe_done)

    async def aclose(self) -> None:
        """Wait for messages still being sent."""
        await self._once.aclose()

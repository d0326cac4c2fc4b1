"""The after-call SMS (``after_call_sms_prompt``): written by the call's LLM, sent once.

The prompt (its variables rendered) tells the LLM what to write; the transcript is given. The
message goes through the outbox as an at-most-once delivery keyed by the attempt: a retried
step, a second delivery loop or a restart never sends it twice, and a try cut mid-way is not
repeated (the provider may have it).
"""

from __future__ import annotations

from typing import Any

from livekit.agents import llm

from ..errors import DeliveryError, ToolError
from ..integrations.sms import SmsLimits, measure, plain_text
from ..integrations.twilio import TwilioSettings, TwilioSms
from .llm_json import ask_for_json

WRITE_SMS = "write_sms"
_SCHEMA = {
    "type": "object",
    "properties": {"message": {"type": "string", "description": "The text message, plain text."}},
    "required": ["message"],
}
_SYSTEM = (
    "You write the text message (SMS) sent to the person after a phone call, following the "
    "instructions below. Plain text, no markdown, links as full URLs, short. Write only what the "
    "instructions ask and what the call supports; never invent facts.\n\nInstructions:\n"
)
_RETRYABLE_CODES = frozenset({"unreachable", "rate_limited"})


async def write_sms(
    model: llm.LLM,
    *,
    instructions: str,
    transcript: str,
    limits: SmsLimits,
    timeout: float,  # noqa: ASYNC109  # the LLM's own bound, like the other after-call steps
) -> str:
    """The message the LLM writes; ``ValueError`` with the reason when there is none to send."""
    answer = await ask_for_json(
        model,
        system=_SYSTEM + instructions,
        user=f"The call:\n{transcript}",
        tool_name=WRITE_SMS,
        tool_description="Saves the text message to send.",
        schema=_SCHEMA,
        timeout=timeout,
    )
    message = plain_text(str(answer.get("message") or ""))
    if not message:
        raise ValueError("the LLM wrote an empty message")
    if measure(message).count > limits.max_segments:
        raise ValueError(f"the message is longer than {limits.max_segments} SMS segments")
    return message


def sms_payload(*, to: str, sender: str, body: str) -> dict[str, Any]:
    """The outbox payload of one message."""
    return {"to": to, "from": sender, "body": body}


async def send_sms(payload: dict[str, Any], *, settings: TwilioSettings) -> str:
    """Send one message with Twilio; ``DeliveryError`` says whether to try again."""
    try:
        receipt = await TwilioSms(settings).send(
            to=str(payload["to"]), sender=str(payload["from"]), body=str(payload["body"])
        )
    except ToolError as err:
        retryable = err.code in _RETRYABLE_CODES and not err.maybe_done
        raise DeliveryError(err.code, retryable=retryable) from None
    return receipt.message_id

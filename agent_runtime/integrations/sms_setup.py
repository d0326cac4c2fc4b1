"""The SMS outbox of a call: which provider, which sending number, which limits."""

from __future__ import annotations

from ..config.phone import to_e164
from ..config.spec import CallSpec
from ..errors import ProviderConfigError
from .settings import IntegrationSettings
from .sms import EventSink, SmsOutbox
from .twilio import TwilioSms


def sending_number(spec: CallSpec, settings: IntegrationSettings) -> str:
    """``TWILIO_FROM_NUMBER``, else the assistant's ``from_phone_number``, else the agent's number.

    Raises ``ProviderConfigError`` when none is set or the one set is not E.164.
    """
    number = (
        settings.twilio.from_number
        or spec.assistant.from_phone_number
        or spec.call.agent_phone_number
    )
    if not number:
        raise ProviderConfigError(
            "no number to send SMS from: set TWILIO_FROM_NUMBER", provider="sms"
        )
    try:
        return to_e164(number)
    except ValueError as err:
        raise ProviderConfigError(f"the SMS sending number {err}", provider="sms") from None


def sms_outbox(spec: CallSpec, settings: IntegrationSettings, events: EventSink) -> SmsOutbox:
    """The outbox of this call's text messages; its owner closes it (``aclose``).

    Raises ``ProviderConfigError`` when no provider is configured.
    """
    return SmsOutbox(
        TwilioSms(settings.twilio),
        from_number=sending_number(spec, settings),
        events=events,
        limits=settings.sms_limits,
    )

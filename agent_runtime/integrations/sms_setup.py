"""The SMS outbox of a call: which provider, which sending number, which limits."""

from __future__ import annotations

from collections.abc import Mapping

from ..config.phone import to_e164
from ..config.spec import CallSpec
from ..errors import ProviderConfigError
from .sms import EventSink, SmsLimits, SmsOutbox
from .twilio import TwilioSettings, TwilioSms


def sending_number(spec: CallSpec, env: Mapping[str, str]) -> str:
    """``TWILIO_FROM_NUMBER``, else the assistant's ``from_phone_number``, else the agent's number.

    Raises ``ProviderConfigError`` when none is set or the one set is not E.164.
    """
    number = (
        env.get("TWILIO_FROM_NUMBER")
        or spec.assistant.from_phone_number
        or spec.call.agent_phone_number
    )
    if not number:
        raise ProviderConfigError("no number to send SMS from: set TWILIO_FROM_NUMBER")
    try:
        return to_e164(number)
    except ValueError as err:
        raise ProviderConfigError(f"the SMS sending number {err}") from None


def sms_outbox(spec: CallSpec, env: Mapping[str, str], events: EventSink) -> SmsOutbox:
    """The outbox of this call's text messages.

    Raises ``ProviderConfigError`` when no provider is configured in ``env``.
    """
    settings = TwilioSettings.from_env(env)
    if settings is None:
        raise ProviderConfigError(
            "SMS needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and _SECRET)"
        )
    return SmsOutbox(
        TwilioSms(settings),
        from_number=sending_number(spec, env),
        events=events,
        limits=SmsLimits.from_env(env),
    )

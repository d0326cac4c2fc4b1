"""Twilio's Messages API as an ``SmsSender``.

``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with the form fields ``To``,
``From`` and ``Body``, basic auth (the account SID and auth token, or an API key and secret).
Twilio has no idempotency key, so a request is retried only when it surely never reached
Twilio (see ``api_http``). Twilio's error messages quote the phone number: only the numeric
error code is read, and mapped to short words for the LLM.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from .api_http import NoAnswer, NotReached, RetryPolicy, request_json
from .once import ActionError
from .sms import SmsReceipt, measure

DEFAULT_BASE_URL = "https://api.twilio.com"
DEFAULT_TIMEOUT = 10.0

_MAY_BE_SENT = "The message may or may not have been sent: do not send it again."
_ERRORS: dict[int, tuple[str, str]] = {
    21211: ("invalid_number", "The phone number of this call cannot receive text messages."),
    21614: ("not_mobile", "The phone number of this call is not a mobile number."),
    21612: ("unroutable", "Text messages cannot be delivered to this phone number."),
    21610: ("opted_out", "This person has opted out of our text messages (they replied STOP)."),
    21408: ("region_disabled", "Text messages to this country are not enabled for our account."),
    21212: ("sender_invalid", "Our sending number cannot send text messages."),
    21606: ("sender_invalid", "Our sending number cannot send text messages."),
    21659: ("sender_invalid", "Our sending number cannot send text messages."),
    21602: ("empty", "The message is empty."),
    21617: ("too_long", "The message is too long; shorten it."),
    20003: ("auth_failed", "Text messages are unavailable right now (the SMS account refused us)."),
    20429: ("rate_limited", "Too many text messages right now; try again in a minute."),
}


@dataclass(frozen=True)
class TwilioSettings:
    """Twilio credentials and where the API is."""

    account_sid: str
    username: str
    password: str
    base_url: str = DEFAULT_BASE_URL
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TwilioSettings | None:
        """The settings from ``TWILIO_*`` variables; None without an account and credentials.

        ``TWILIO_ACCOUNT_SID`` with ``TWILIO_AUTH_TOKEN``, or with ``TWILIO_API_KEY`` and
        ``TWILIO_API_SECRET``; ``TWILIO_BASE_URL`` and ``TWILIO_TIMEOUT`` (seconds) optional.
        """
        sid = env.get("TWILIO_ACCOUNT_SID", "").strip()
        username, password = sid, env.get("TWILIO_AUTH_TOKEN", "")
        key, secret = env.get("TWILIO_API_KEY", "").strip(), env.get("TWILIO_API_SECRET", "")
        if key and secret:
            username, password = key, secret
        if not sid or not password:
            return None
        return cls(
            account_sid=sid,
            username=username,
            password=password,
            base_url=(env.get("TWILIO_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            timeout=float(env.get("TWILIO_TIMEOUT") or DEFAULT_TIMEOUT),
        )


def _basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _error(status: int, data: object) -> ActionError:
    code = data.get("code") if isinstance(data, dict) else None
    if isinstance(code, int) and code in _ERRORS:
        kind, message = _ERRORS[code]
        return ActionError(message, code=kind)
    if status == 401:
        return ActionError(_ERRORS[20003][1], code="auth_failed")
    if status == 429:
        return ActionError(_ERRORS[20429][1], code="rate_limited")
    if status >= 500:
        message = f"The text message service failed. {_MAY_BE_SENT}"
        return ActionError(message, code="service_error", maybe_done=True)
    label = f"Twilio error {code}" if isinstance(code, int) else f"HTTP {status}"
    message = f"The text message could not be sent ({label})."
    return ActionError(message, code=f"twilio_{code or status}")


class TwilioSms:
    """Sends text messages with Twilio's Messages API."""

    name = "twilio"

    def __init__(self, settings: TwilioSettings, *, retry: RetryPolicy | None = None) -> None:
        self._settings = settings
        self._retry = retry or RetryPolicy()

    async def send(self, *, to: str, sender: str, body: str) -> SmsReceipt:
        """Send one message; raises ``ActionError`` (``maybe_done`` when Twilio may have it)."""
        settings = self._settings
        url = f"{settings.base_url}/2010-04-01/Accounts/{quote(settings.account_sid)}/Messages.json"
        try:
            answer = await request_json(
                "POST",
                url,
                time_limit=settings.timeout,
                retry=self._retry,
                data={"To": to, "From": sender, "Body": body},
                headers={"Authorization": _basic_auth(settings.username, settings.password)},
            )
        except NotReached:
            raise ActionError(
                "The text message service could not be reached; nothing was sent.",
                code="unreachable",
            ) from None
        except NoAnswer:
            raise ActionError(
                f"The text message service did not answer in time. {_MAY_BE_SENT}",
                code="no_answer",
                maybe_done=True,
            ) from None
        data = answer.data if isinstance(answer.data, dict) else {}
        if answer.status not in (200, 201):
            raise _error(answer.status, data)
        sid = data.get("sid")
        if not isinstance(sid, str) or not sid:
            raise ActionError(
                f"The text message service answered oddly. {_MAY_BE_SENT}",
                code="bad_answer",
                maybe_done=True,
            )
        try:
            segments = int(data.get("num_segments") or 0)
        except (TypeError, ValueError):
            segments = 0
        return SmsReceipt(message_id=sid, segments=segments or measure(body).count)

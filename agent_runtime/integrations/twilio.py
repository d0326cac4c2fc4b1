"""Twilio's Messages API as an ``SmsSender``.

``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` with the form fields ``To``,
``From`` and ``Body``, basic auth (the account SID and auth token, or an API key and secret).
Twilio has no idempotency key, so a request is retried only when it surely never reached
Twilio (see ``api_http``). Twilio's error messages quote the phone number: only the numeric
error code is read, and mapped to short words for the LLM.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

from pydantic import Field, SecretStr

from ..errors import NoAnswer, NotReached, ProviderConfigError, ToolError
from ..settings import EnvModel
from .api_http import RetryPolicy, request_json
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


class TwilioSettings(EnvModel):
    """Twilio credentials, the sending number, and where the API is.

    ``TWILIO_ACCOUNT_SID`` with ``TWILIO_AUTH_TOKEN``, or with ``TWILIO_API_KEY`` and
    ``TWILIO_API_SECRET``; ``TWILIO_FROM_NUMBER``, ``TWILIO_BASE_URL`` and ``TWILIO_TIMEOUT``
    (seconds) are optional.
    """

    account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID")
    auth_token: SecretStr | None = Field(None, alias="TWILIO_AUTH_TOKEN")
    api_key: str | None = Field(None, alias="TWILIO_API_KEY")
    api_secret: SecretStr | None = Field(None, alias="TWILIO_API_SECRET")
    from_number: str | None = Field(None, alias="TWILIO_FROM_NUMBER")
    base_url: str = Field(DEFAULT_BASE_URL, alias="TWILIO_BASE_URL")
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0, alias="TWILIO_TIMEOUT")

    def credentials(self) -> tuple[str, str] | None:
        """(username, password) for basic auth; None without an account and credentials."""
        sid = (self.account_sid or "").strip()
        if self.api_key and self.api_secret:
            username, password = self.api_key.strip(), self.api_secret.get_secret_value()
        else:
            token = self.auth_token.get_secret_value() if self.auth_token else ""
            username, password = sid, token
        if not sid or not password:
            return None
        return username, password


def _basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _error(status: int, data: object) -> ToolError:
    code = data.get("code") if isinstance(data, dict) else None
    if isinstance(code, int) and code in _ERRORS:
        kind, message = _ERRORS[code]
        return ToolError(message, code=kind)
    if status == 401:
        return ToolError(_ERRORS[20003][1], code="auth_failed")
    if status == 429:
        return ToolError(_ERRORS[20429][1], code="rate_limited")
    if status >= 500:
        message = f"The text message service failed. {_MAY_BE_SENT}"
        return ToolError(message, code="service_error", maybe_done=True)
    label = f"Twilio error {code}" if isinstance(code, int) else f"HTTP {status}"
    message = f"The text message could not be sent ({label})."
    return ToolError(message, code=f"twilio_{code or status}")


class TwilioSms:
    """Sends text messages with Twilio's Messages API."""

    name = "twilio"

    def __init__(self, settings: TwilioSettings, *, retry: RetryPolicy | None = None) -> None:
        """Raises ``ProviderConfigError`` when ``settings`` have no account and credentials."""
        credentials = settings.credentials()
        if credentials is None or settings.account_sid is None:
            raise ProviderConfigError(
                "SMS needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
                " (or TWILIO_API_KEY and TWILIO_API_SECRET)",
                provider="sms",
            )
        self._settings = settings
        self._account = settings.account_sid.strip()
        self._auth = _basic_auth(*credentials)
        self._retry = retry or RetryPolicy()

    async def send(self, *, to: str, sender: str, body: str) -> SmsReceipt:
        """Send one message; raises ``ToolError`` (``maybe_done`` when Twilio may have it)."""
        settings = self._settings
        base = settings.base_url.rstrip("/")
        url = f"{base}/2010-04-01/Accounts/{quote(self._account)}/Messages.json"
        try:
            answer = await request_json(
                "POST",
                url,
                time_limit=settings.timeout,
                retry=self._retry,
                data={"To": to, "From": sender, "Body": body},
                headers={"Authorization": self._auth},
            )
        except NotReached:
            raise ToolError(
                "The text message service could not be reached; nothing was sent.",
                code="unreachable",
            ) from None
        except NoAnswer:
            raise ToolError(
                f"The text message service did not answer in time. {_MAY_BE_SENT}",
                code="no_answer",
                maybe_done=True,
            ) from None
        data = answer.data if isinstance(answer.data, dict) else {}
        if answer.status not in (200, 201):
            raise _error(answer.status, data)
        sid = data.get("sid")
        if not isinstance(sid, str) or not sid:
            raise ToolError(
                f"The text message service answered oddly. {_MAY_BE_SENT}",
                code="bad_answer",
                maybe_done=True,
            )
        try:
            segments = int(data.get("num_segments") or 0)
        except (TypeError, ValueError):
            segments = 0
        return SmsReceipt(message_id=sid, segments=segments or measure(body).count)

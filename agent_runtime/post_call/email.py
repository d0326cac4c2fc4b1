"""Call notifications by email: composed from the call report, sent to an SMTP server.

``compose_notification`` turns a finished call into an ``EmailPayload`` (what the outbox
stores); ``send_email`` sends one with aiosmtplib and returns its ``Message-ID``.

Environment variables (``EmailSettings``):

- ``SMTP_HOST``: the SMTP server; unset, email is not configured.
- ``SMTP_PORT``: its port (default 587; 465 is the usual one with ``tls``).
- ``SMTP_USERNAME`` and ``SMTP_PASSWORD``: the credentials for AUTH, both or neither.
- ``SMTP_FROM``: the From address (``calls@example.com`` or ``Calls <calls@example.com>``);
  required with ``SMTP_HOST``.
- ``SMTP_SECURITY``: ``starttls`` (the default: the connection is upgraded, and a server that
  cannot is refused), ``tls`` (TLS from the first byte) or ``none`` (plain text, for a relay on
  the same host only).
- ``SMTP_TIMEOUT``: the most seconds one message may take to send (default 30).

A failure is a ``DeliveryError``: retryable when the server could not be reached, was too slow
or answered a temporary (4xx) code; not retryable on a permanent (5xx) answer, a TLS failure or
a server without what the settings ask for. Its message holds the SMTP code, never the password,
an address or the body.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, Literal, Self

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ..errors import DeliveryError
from ..report.model import CallReport
from ..settings import EnvModel

Security = Literal["starttls", "tls", "none"]
SUBJECT_LIMIT = 200
"""The most characters of a subject; a longer one is cut with an ellipsis."""

_SPEAKERS = {"user": "Caller", "assistant": "Agent"}
_REFUSED = {
    aiosmtplib.SMTPConnectResponseError: "refused the connection",
    aiosmtplib.SMTPHeloError: "refused our greeting",
    aiosmtplib.SMTPAuthenticationError: "refused the credentials",
    aiosmtplib.SMTPSenderRefused: "refused the sender",
    aiosmtplib.SMTPRecipientRefused: "refused the recipient",
    aiosmtplib.SMTPDataError: "refused the message",
}


class EmailSettings(EnvModel):
    """The SMTP server notifications are sent through (see the module for the variables)."""

    host: str | None = Field(None, alias="SMTP_HOST")
    port: int = Field(587, ge=1, le=65535, alias="SMTP_PORT")
    username: str | None = Field(None, alias="SMTP_USERNAME")
    password: SecretStr | None = Field(None, alias="SMTP_PASSWORD")
    sender: str | None = Field(None, alias="SMTP_FROM")
    security: Security = Field("starttls", alias="SMTP_SECURITY")
    timeout: float = Field(30.0, gt=0, alias="SMTP_TIMEOUT")

    @field_validator("sender")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None and "@" not in parseaddr(value)[1]:
            raise ValueError("must be an email address (calls@example.com)")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.host and not self.sender:
            raise ValueError("SMTP_FROM (the From address) is required when SMTP_HOST is set")
        if (self.username is None) != (self.password is None):
            raise ValueError("SMTP_USERNAME and SMTP_PASSWORD must be set together")
        return self

    @property
    def configured(self) -> bool:
        """Whether email can be sent (``SMTP_HOST`` is set)."""
        return self.host is not None


class EmailPayload(BaseModel):
    """One email to send, as the outbox stores it (JSON)."""

    model_config = ConfigDict(frozen=True)

    to: str = Field(min_length=1)
    subject: str
    text: str = Field(description="The plain-text body.")


def compose_notification(
    *,
    to: str,
    report: CallReport,
    outcome: str | None,
    summary: str | None,
    structured_output: dict[str, Any] | None,
) -> EmailPayload:
    """The email that tells ``to`` how a call went.

    The subject is ``Call <call id>: <outcome>`` (the status without an outcome) and holds no
    phone number; the body lists the call's facts, the summary, the extracted fields and the
    transcript.
    """
    call_id = report.runtime.call_id or report.id
    subject = _one_line(f"Call {call_id}: {outcome or report.status}")
    sections = [
        _facts(report, call_id, outcome),
        "Summary\n" + (summary.strip() if summary and summary.strip() else "(none)"),
        "Extracted data\n" + _fields(structured_output),
        "Transcript\n" + _transcript(report),
    ]
    return EmailPayload(to=to, subject=subject, text="\n\n".join(sections) + "\n")


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 1] + "…"


def _facts(report: CallReport, call_id: str, outcome: str | None) -> str:
    ended_by: str = report.ended_by or "unknown"
    if report.end_reason:
        ended_by += f" ({report.end_reason})"
    facts = {
        "Call": call_id,
        "Attempt": report.id,
        "Direction": report.runtime.direction or "unknown",
        "Status": report.status,
        "Ended by": ended_by,
        "Duration": _duration(report.runtime.duration),
        "Outcome": outcome or "(none)",
    }
    return "\n".join(f"{name}: {value}" for name, value in facts.items())


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _fields(data: dict[str, Any] | None) -> str:
    if not data:
        return "(none)"
    return "\n".join(f"{name}: {_value(value)}" for name, value in data.items())


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _transcript(report: CallReport) -> str:
    lines = []
    for row in report.transcript or []:
        if row.role == "tool":
            lines.append(f"[{row.tool_name or 'tool'} → {row.tool_output or ''}]")
        else:
            lines.append(f"{_SPEAKERS[row.role]}: {row.content}")
    return "\n".join(lines) or "(none)"


async def send_email(settings: EmailSettings, payload: EmailPayload) -> str:
    """Send ``payload`` through the SMTP server of ``settings``; return its ``Message-ID``.

    Raises:
        DeliveryError: Email is not configured, or the server did not take the message;
            ``retryable`` when trying later may succeed.
    """
    if settings.host is None or settings.sender is None:
        raise DeliveryError("email is not configured (SMTP_HOST)", retryable=False)
    message = _message(settings.sender, payload)
    password = settings.password.get_secret_value() if settings.password else None
    try:
        async with asyncio.timeout(settings.timeout):
            await aiosmtplib.send(
                message,
                hostname=settings.host,
                port=settings.port,
                username=settings.username,
                password=password,
                use_tls=settings.security == "tls",
                start_tls=settings.security == "starttls",
                timeout=settings.timeout,
            )
    except (aiosmtplib.SMTPException, OSError) as err:
        raise _failure(err, settings) from None
    return str(message["Message-ID"])


def _message(sender: str, payload: EmailPayload) -> EmailMessage:
    domain = parseaddr(sender)[1].rpartition("@")[2]
    message = EmailMessage()
    try:
        message["From"] = sender
        message["To"] = payload.to
        message["Subject"] = payload.subject
    except ValueError:  # a line break in a header: never sent
        raise DeliveryError(
            "the email cannot be built (a header holds a line break)", retryable=False
        ) from None
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(payload.text)
    return message


def _failure(err: Exception, settings: EmailSettings) -> DeliveryError:
    """The ``DeliveryError`` for what aiosmtplib raised (the server's own words left out)."""
    if isinstance(err, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in err.recipients]
        return _answered("refused the recipient", min(codes, default=550))
    if isinstance(err, aiosmtplib.SMTPResponseException):
        what = next((w for kind, w in _REFUSED.items() if isinstance(err, kind)), "failed")
        return _answered(what, err.code)
    if isinstance(err, TimeoutError):
        return DeliveryError(
            f"the SMTP server did not answer within {settings.timeout:g} s", retryable=True
        )
    if _tls_failure(err):
        return DeliveryError(
            f"the TLS handshake with the SMTP server failed (SMTP_SECURITY={settings.security})",
            retryable=False,
        )
    if isinstance(err, OSError):  # SMTPConnectError and SMTPServerDisconnected too
        return DeliveryError(
            f"the SMTP server could not be reached ({type(err).__name__})", retryable=True
        )
    # SMTPNotSupported and the like: the server lacks what the settings ask (STARTTLS, AUTH)
    return DeliveryError(f"the SMTP server cannot send as configured: {err}", retryable=False)


def _answered(what: str, code: int) -> DeliveryError:
    temporary = 400 <= code < 500
    kind = "temporarily" if temporary else "permanently"
    return DeliveryError(f"the SMTP server {kind} {what} ({code})", retryable=temporary)


def _tls_failure(err: BaseException) -> bool:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False

"""Call notifications by email, sent to a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from agent_runtime.config.attempt import TranscriptRow
from agent_runtime.errors import DeliveryError, SettingsError
from agent_runtime.post_call.email import (
    EmailPayload,
    EmailSettings,
    compose_notification,
    send_email,
)
from agent_runtime.report.model import CallReport, RuntimeSection

PHONE = "+33612345678"
PASSWORD = "s3cret-pw"


@dataclass
class Mailbox:
    """An SMTP handler that keeps what it receives and may answer RCPT or DATA with a code."""

    messages: list[tuple[Envelope, Session]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.messages.append((envelope, session))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password.decode() == PASSWORD, handled=False)

    def received(self) -> EmailMessage:
        [(envelope, _)] = self.messages
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        return message


class _AnyPortController(Controller):
    """Listens on a port the system picks (no race for a "free" port)."""

    def _trigger_server(self) -> None:
        server = cast(asyncio.Server, self.server)
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_port(mailbox: Mailbox) -> Iterator[int]:
    controller = _AnyPortController(
        mailbox,
        hostname="127.0.0.1",
        port=0,
        authenticator=mailbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local port that takes connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def _settings(port: int, **extra: str) -> EmailSettings:
    env = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_FROM": "Acme Calls <calls@acme.test>",
        "SMTP_SECURITY": "none",
        "SMTP_TIMEOUT": "10",
        **extra,
    }
    return EmailSettings.from_env(env)


def _report() -> CallReport:
    return CallReport(
        id="att_42",
        phone_number=PHONE,
        status="completed",
        ended_by="agent",
        end_reason="tool_end_call",
        transcript=[
            TranscriptRow(role="assistant", content="Hello, Acme here."),
            TranscriptRow(role="user", content="I want to renew my plan."),
            TranscriptRow(role="tool", tool_name="lookup_plan", tool_output="gold, expires May"),
            TranscriptRow(role="assistant", content="Done, your gold plan is renewed."),
        ],
        runtime=RuntimeSection(call_id="call_7", direction="outbound", duration=95.4),
    )


def _payload(to: str = "ops@acme.test") -> EmailPayload:
    return compose_notification(
        to=to,
        report=_report(),
        outcome="renewed",
        summary="The caller renewed the gold plan.",
        structured_output={"plan": "gold", "renews": True, "seats": 3},
    )


def test_the_notification_holds_the_call_and_no_number_in_the_subject() -> None:
    payload = _payload()
    assert payload.subject == "Call call_7: renewed"
    lines = payload.text.splitlines()
    for expected in [
        "Call: call_7",
        "Attempt: att_42",
        "Direction: outbound",
        "Status: completed",
        "Ended by: agent (tool_end_call)",
        "Duration: 1 min 35 s",
        "Outcome: renewed",
        "The caller renewed the gold plan.",
        "plan: gold",
        "renews: true",
        "seats: 3",
        "Agent: Hello, Acme here.",
        "Caller: I want to renew my plan.",
        "[lookup_plan → gold, expires May]",
    ]:
        assert expected in lines
    assert lines.index("Caller: I want to renew my plan.") < lines.index(
        "[lookup_plan → gold, expires May]"
    )
    assert PHONE not in payload.subject
    assert EmailPayload.model_validate_json(payload.model_dump_json()) == payload


def test_without_an_outcome_the_subject_gives_the_status() -> None:
    payload = compose_notification(
        to="ops@acme.test",
        report=CallReport(id="att_1", status="error"),
        outcome=None,
        summary=None,
        structured_output=None,
    )
    assert payload.subject == "Call att_1: error"
    assert "Transcript\n(none)" in payload.text


async def test_the_email_arrives_with_its_headers_and_body(
    mailbox: Mailbox, smtp_port: int
) -> None:
    message_id = await send_email(_settings(smtp_port), _payload())

    [(envelope, _)] = mailbox.messages
    assert envelope.mail_from == "calls@acme.test"
    assert envelope.rcpt_tos == ["ops@acme.test"]
    received = mailbox.received()
    assert received["From"] == "Acme Calls <calls@acme.test>"
    assert received["To"] == "ops@acme.test"
    assert received["Subject"] == "Call call_7: renewed"
    assert received["Message-ID"] == message_id
    assert message_id.endswith("@acme.test>")
    assert received["Date"]
    body = received.get_content()
    assert "Caller: I want to renew my plan." in body
    assert "[lookup_plan → gold, expires May]" in body
    assert "plan: gold" in body
    assert mailbox.logins == []  # no credentials set: no AUTH


async def test_the_credentials_are_used(mailbox: Mailbox, smtp_port: int) -> None:
    settings = _settings(smtp_port, SMTP_USERNAME="acme", SMTP_PASSWORD=PASSWORD)
    await send_email(settings, _payload())
    assert mailbox.logins == [("acme", PASSWORD)]
    [(_, session)] = mailbox.messages
    assert session.authenticated


async def test_refused_credentials_are_not_retried(mailbox: Mailbox, smtp_port: int) -> None:
    settings = _settings(smtp_port, SMTP_USERNAME="acme", SMTP_PASSWORD="wrong-pw")
    with pytest.raises(DeliveryError) as caught:
        await send_email(settings, _payload())
    assert not caught.value.retryable
    assert "535" in str(caught.value)
    assert "wrong-pw" not in str(caught.value)
    assert mailbox.messages == []


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply", "code", "retryable"),
    [
        ("451 4.3.0 Try again later", None, "451", True),
        (None, "452 4.3.1 Insufficient system storage", "452", True),
        ("550 5.1.1 No such user here", None, "550", False),
        (None, "554 5.6.0 Message refused", "554", False),
    ],
)
async def test_a_temporary_answer_is_retried_a_permanent_one_is_not(
    mailbox: Mailbox,
    smtp_port: int,
    rcpt_reply: str | None,
    data_reply: str | None,
    code: str,
    retryable: bool,
) -> None:
    mailbox.rcpt_reply, mailbox.data_reply = rcpt_reply, data_reply
    payload = _payload(to="nobody@acme.test")
    with pytest.raises(DeliveryError) as caught:
        await send_email(_settings(smtp_port), payload)
    assert caught.value.retryable is retryable
    assert code in str(caught.value)
    assert "nobody" not in str(caught.value)  # no address, no body in the reason
    assert "renew" not in str(caught.value)


async def test_nothing_listening_is_retried(closed_port: int) -> None:
    with pytest.raises(DeliveryError) as caught:
        await send_email(_settings(closed_port), _payload())
    assert caught.value.retryable
    assert "could not be reached" in str(caught.value)


async def test_a_server_that_never_answers_is_retried(silent_port: int) -> None:
    with pytest.raises(DeliveryError) as caught:
        await send_email(_settings(silent_port, SMTP_TIMEOUT="0.5"), _payload())
    assert caught.value.retryable
    assert "did not answer within 0.5 s" in str(caught.value)


async def test_starttls_is_required_when_asked(mailbox: Mailbox, smtp_port: int) -> None:
    # the server offers no STARTTLS: the password must not go out in plain text
    settings = _settings(
        smtp_port, SMTP_SECURITY="starttls", SMTP_USERNAME="acme", SMTP_PASSWORD=PASSWORD
    )
    with pytest.raises(DeliveryError) as caught:
        await send_email(settings, _payload())
    assert not caught.value.retryable
    assert "STARTTLS" in str(caught.value)
    assert mailbox.logins == [] and mailbox.messages == []


async def test_tls_against_a_plain_server_is_not_retried(mailbox: Mailbox, smtp_port: int) -> None:
    with pytest.raises(DeliveryError) as caught:
        await send_email(_settings(smtp_port, SMTP_SECURITY="tls"), _payload())
    assert not caught.value.retryable
    assert "TLS" in str(caught.value)
    assert mailbox.messages == []


async def test_a_line_break_in_a_header_is_refused_before_sending(
    mailbox: Mailbox, smtp_port: int
) -> None:
    payload = EmailPayload(to="ops@acme.test\nBcc: spy@evil.test", subject="x", text="x")
    with pytest.raises(DeliveryError) as caught:
        await send_email(_settings(smtp_port), payload)
    assert not caught.value.retryable
    assert mailbox.messages == []


async def test_unconfigured_email_is_not_sent() -> None:
    settings = EmailSettings.from_env({})
    assert not settings.configured
    with pytest.raises(DeliveryError) as caught:
        await send_email(settings, _payload())
    assert not caught.value.retryable
    assert "SMTP_HOST" in str(caught.value)


def test_settings_defaults() -> None:
    settings = EmailSettings.from_env({"SMTP_HOST": "smtp.acme.test", "SMTP_FROM": "a@acme.test"})
    assert settings.configured
    assert (settings.port, settings.security, settings.timeout) == (587, "starttls", 30.0)


@pytest.mark.parametrize(
    ("env", "variable", "words"),
    [
        ({"SMTP_PORT": "abc"}, "SMTP_PORT", "must be a valid integer"),
        ({"SMTP_PORT": "70000"}, "SMTP_PORT", "less than or equal to 65535"),
        ({"SMTP_SECURITY": "ssl"}, "SMTP_SECURITY", "'starttls', 'tls' or 'none'"),
        ({"SMTP_TIMEOUT": "0"}, "SMTP_TIMEOUT", "greater than 0"),
        ({"SMTP_FROM": "calls"}, "SMTP_FROM", "must be an email address"),
    ],
)
def test_a_bad_setting_is_named(env: dict[str, str], variable: str, words: str) -> None:
    with pytest.raises(SettingsError) as caught:
        EmailSettings.from_env({"SMTP_HOST": "smtp.acme.test", "SMTP_FROM": "a@acme.test", **env})
    [problem] = caught.value.problems
    assert problem.path == variable
    assert words in problem.reason


def test_a_host_without_a_from_address_names_both() -> None:
    with pytest.raises(SettingsError) as caught:
        EmailSettings.from_env({"SMTP_HOST": "smtp.acme.test"})
    assert "SMTP_FROM" in str(caught.value) and "SMTP_HOST" in str(caught.value)


def test_a_username_without_a_password_is_refused() -> None:
    env = {"SMTP_HOST": "smtp.acme.test", "SMTP_FROM": "a@acme.test", "SMTP_USERNAME": "acme"}
    with pytest.raises(SettingsError) as caught:
        EmailSettings.from_env(env)
    assert "SMTP_USERNAME and SMTP_PASSWORD" in str(caught.value)


def test_the_password_never_shows() -> None:
    settings = _settings(25, SMTP_USERNAME="acme", SMTP_PASSWORD=PASSWORD)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)

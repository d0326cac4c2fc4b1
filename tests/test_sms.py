"""SMS: segment counting, the Twilio client against a local fake, at-most-once sending, and the
``send_sms`` tool as the config builds it."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest
from aiohttp import web
from livekit.agents import llm

from agent_runtime.config.loading import spec_from_document
from agent_runtime.errors import ProviderConfigError, SettingsError, ToolError
from agent_runtime.integrations.api_http import RetryPolicy
from agent_runtime.integrations.settings import IntegrationSettings
from agent_runtime.integrations.sms import Segments, SmsLimits, SmsOutbox, measure, plain_text
from agent_runtime.integrations.sms_setup import sending_number, sms_outbox
from agent_runtime.integrations.twilio import TwilioSettings, TwilioSms
from agent_runtime.plugins import sms as sms_plugin
from agent_runtime.plugins.context import Closeable, PluginContext
from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.local_server import serve
from agent_runtime.telephony.local import LocalLine

from .fakes_twilio import ACCOUNT_SID, AGENT_NUMBER, AUTH_TOKEN, FakeTwilio, Scripted

CALLER = "+14155550123"
_T = TypeVar("_T")


class Control:
    """Records what a plugin asks of the call (the ``CallControl`` port)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.owned: list[Closeable] = []

    def end_after(self, speech: Any, *, farewell: str | None) -> None:
        raise AssertionError("SMS never ends the call")

    def own(self, resource: Closeable) -> None:
        self.owned.append(resource)

    async def until_ended(self, work: Coroutine[Any, Any, _T]) -> _T:
        return await work  # this call never ends

    async def transfer(self, to: str) -> None:
        raise AssertionError("SMS never transfers the call")

    async def warm_transfer(self, to: str) -> None:
        raise AssertionError("SMS never transfers the call")

    def event(self, type: str, **detail: str | int | float | bool | None) -> None:
        self.events.append((type, detail))

    def of(self, type: str) -> list[dict[str, Any]]:
        return [detail for kind, detail in self.events if kind == type]


def virtual(main: Callable[[], Awaitable[_T]]) -> _T:
    """Run ``main()`` on the virtual clock (sleeps and time limits take no real time)."""

    async def wrapper() -> _T:
        return await main()

    result: _T = run_virtual(wrapper)
    return result


def twilio(base_url: str, **env: str) -> TwilioSms:
    settings = TwilioSettings.from_env({**FakeTwilio().env(base_url), **env})
    assert settings is not None
    return TwilioSms(settings, retry=RetryPolicy(backoff=0.5))


def outbox(base_url: str, control: Control, **limits: int) -> SmsOutbox:
    return SmsOutbox(
        twilio(base_url),
        from_number=AGENT_NUMBER,
        events=control.event,
        limits=SmsLimits(**limits),
    )


# -- length ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters take two septets
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 164, 2),  # the escape pair is not split
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
        ("é" * 70, "GSM-7", 70, 1),  # in the default alphabet
        ("ê" * 70, "UCS-2", 70, 1),
        ("ê" * 71, "UCS-2", 71, 2),
        ("ê" * 134, "UCS-2", 134, 2),
        ("ê" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),  # surrogate pairs: two units each
        ("a" * 66 + "😀" + "a" * 10, "UCS-2", 78, 2),
        ("", "GSM-7", 0, 0),
    ],
)
def test_segments(text: str, encoding: Any, units: int, count: int) -> None:
    assert measure(text) == Segments(encoding, units, count)


def test_typographic_punctuation_is_made_plain_to_stay_gsm() -> None:
    text = plain_text("  It’s “here” – see… ")
    assert text == 'It\'s "here" - see...'
    assert measure(text).encoding == "GSM-7"


# -- the Twilio client -------------------------------------------------------------------------


async def test_message_is_sent_with_the_form_fields_and_basic_auth() -> None:
    fake = FakeTwilio()
    async with serve(fake.app) as url:
        receipt = await twilio(url).send(to=CALLER, sender=AGENT_NUMBER, body="Hi " + "ê" * 70)
    (message,) = fake.messages
    assert (message.to, message.sender, message.body) == (CALLER, AGENT_NUMBER, "Hi " + "ê" * 70)
    assert receipt.message_id == message.sid and message.sid.startswith("SM")
    assert receipt.segments == 2 and not receipt.repeated


async def test_an_api_key_may_replace_the_auth_token() -> None:
    fake = FakeTwilio()
    fake.credentials["SK" + "b2" * 16] = "key-secret"
    async with serve(fake.app) as url:
        client = twilio(url, TWILIO_API_KEY="SK" + "b2" * 16, TWILIO_API_SECRET="key-secret")
        await client.send(to=CALLER, sender=AGENT_NUMBER, body="Hello")
    assert len(fake.messages) == 1


def test_settings_need_an_account_and_a_secret() -> None:
    assert TwilioSettings.from_env({"TWILIO_ACCOUNT_SID": ACCOUNT_SID}).credentials() is None
    settings = TwilioSettings.from_env(
        {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    )
    assert settings.credentials() == (ACCOUNT_SID, AUTH_TOKEN)
    assert settings.base_url == "https://api.twilio.com"
    with pytest.raises(SettingsError, match="TWILIO_TIMEOUT"):
        TwilioSettings.from_env({"TWILIO_TIMEOUT": "soon"})


@pytest.mark.parametrize(
    ("setup", "to", "code", "words"),
    [
        (lambda f: None, "0612345678", "invalid_number", "cannot receive text messages"),
        (lambda f: f.opted_out.add(CALLER), CALLER, "opted_out", "opted out"),
        (lambda f: f.landlines.add(CALLER), CALLER, "not_mobile", "not a mobile number"),
        (lambda f: f.owned_numbers.clear(), CALLER, "sender_invalid", "sending number"),
        (lambda f: f.credentials.update({ACCOUNT_SID: "rotated"}), CALLER, "auth_failed", ""),
        (
            lambda f: f.script.append(Scripted(429, {"code": 20429, "message": "Too Many"})),
            CALLER,
            "rate_limited",
            "try again in a minute",
        ),
    ],
)
async def test_twilio_refusals_are_short_errors_without_the_number(
    setup: Callable[[FakeTwilio], None], to: str, code: str, words: str
) -> None:
    fake = FakeTwilio()
    setup(fake)
    async with serve(fake.app) as url:
        with pytest.raises(ToolError) as caught:
            await twilio(url).send(to=to, sender=AGENT_NUMBER, body="Hello")
    assert caught.value.code == code and words in caught.value.message
    assert not caught.value.maybe_done
    assert to not in caught.value.message and AGENT_NUMBER not in caught.value.message
    assert fake.requests == 1 and fake.messages == []


async def test_a_server_error_may_have_sent_the_message_and_is_not_retried() -> None:
    fake = FakeTwilio()
    fake.script.append(Scripted(500, {"code": 20500, "message": "Internal Server Error"}))
    async with serve(fake.app) as url:
        with pytest.raises(ToolError) as caught:
            await twilio(url).send(to=CALLER, sender=AGENT_NUMBER, body="Hello")
    assert caught.value.maybe_done and "do not send it again" in caught.value.message
    assert fake.requests == 1


def test_429_with_retry_after_is_waited_for_then_sent_once() -> None:
    fake = FakeTwilio()
    fake.script.append(Scripted(429, {"code": 20429}, headers={"Retry-After": "2"}))

    async def main() -> float:
        async with serve(fake.app) as url:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await twilio(url).send(to=CALLER, sender=AGENT_NUMBER, body="Hello")
            return loop.time() - started

    assert virtual(main) >= 2.0
    assert fake.requests == 2 and len(fake.messages) == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_refused_connection_is_retried_until_twilio_listens() -> None:
    fake = FakeTwilio()
    port = _free_port()

    async def main() -> None:
        runner = web.AppRunner(fake.app, access_log=None)
        await runner.setup()

        async def open_later() -> None:
            await asyncio.sleep(0.7)  # between the second attempt (0.5 s) and the third (1.5 s)
            await web.TCPSite(runner, "127.0.0.1", port).start()

        opener = asyncio.create_task(open_later())
        try:
            client = twilio(f"http://127.0.0.1:{port}")
            await client.send(to=CALLER, sender=AGENT_NUMBER, body="Hello")
        finally:
            await opener
            await runner.cleanup()

    virtual(main)
    assert fake.requests == 1 and len(fake.messages) == 1


def test_an_unreachable_twilio_is_an_error_saying_nothing_was_sent() -> None:
    async def main() -> ToolError:
        with pytest.raises(ToolError) as caught:
            await twilio(f"http://127.0.0.1:{_free_port()}").send(
                to=CALLER, sender=AGENT_NUMBER, body="Hello"
            )
        return caught.value

    error = virtual(main)
    assert error.code == "unreachable" and not error.maybe_done


# -- at most once --------------------------------------------------------------------------------


async def test_an_identical_request_returns_the_first_result_without_sending() -> None:
    fake, control = FakeTwilio(), Control()
    async with serve(fake.app) as url:
        box = outbox(url, control)
        first = await box.send(CALLER, "Your code is 4242")
        again = await box.send(CALLER, "  Your code is 4242 ")
        other = await box.send(CALLER, "Your code is 5353")
    assert len(fake.messages) == 2
    assert again.repeated and again.message_id == first.message_id
    assert not other.repeated
    assert [d["message_sid"] for d in control.of("sms_sent")] == [
        first.message_id,
        other.message_id,
    ]
    assert control.of("sms_not_resent") == [{"message_sid": first.message_id, "purpose": "tool"}]


async def test_parallel_identical_requests_send_once() -> None:
    fake, control = FakeTwilio(), Control()
    fake.script.append(Scripted(201, delay=0.2))
    async with serve(fake.app) as url:
        box = outbox(url, control)
        receipts = await asyncio.gather(*(box.send(CALLER, "Same text") for _ in range(3)))
    assert len(fake.messages) == 1 and fake.requests == 1
    assert {r.message_id for r in receipts} == {fake.messages[0].sid}
    assert sorted(r.repeated for r in receipts) == [False, True, True]


async def test_an_interrupted_tool_does_not_abort_the_send() -> None:
    fake, control = FakeTwilio(), Control()
    fake.script.append(Scripted(201, delay=0.3))
    async with serve(fake.app) as url:
        box = outbox(url, control)
        tool = asyncio.create_task(box.send(CALLER, "Link: https://acme.example/r"))
        await asyncio.sleep(0.1)
        tool.cancel()  # the caller barged in, or the session closed
        with pytest.raises(asyncio.CancelledError):
            await tool
        await box.aclose()
        again = await box.send(CALLER, "Link: https://acme.example/r")
    assert len(fake.messages) == 1 and fake.requests == 1
    assert len(control.of("sms_sent")) == 1 and again.repeated


def test_a_timeout_after_sending_is_never_retried() -> None:
    fake, control = FakeTwilio(), Control()
    fake.script.append(Scripted(201, delay=30))

    async def main() -> tuple[ToolError, ToolError]:
        async with serve(fake.app) as url:
            box = SmsOutbox(
                twilio(url, TWILIO_TIMEOUT="2"), from_number=AGENT_NUMBER, events=control.event
            )
            errors = []
            for _ in range(2):
                with pytest.raises(ToolError) as caught:
                    await box.send(CALLER, "Hello")
                errors.append(caught.value)
            return errors[0], errors[1]

    first, second = virtual(main)
    assert first.code == "no_answer" and first.maybe_done
    assert second is first
    assert fake.requests == 1
    assert control.of("sms_failed") == [
        {"provider": "twilio", "code": "no_answer", "maybe_sent": True, "purpose": "tool"}
    ]
    assert control.of("sms_not_resent") == [{"code": "no_answer", "purpose": "tool"}]


async def test_a_failure_that_surely_sent_nothing_may_be_tried_again() -> None:
    fake, control = FakeTwilio(), Control()
    fake.script.append(Scripted(429, {"code": 20429, "message": "Too Many Requests"}))
    async with serve(fake.app) as url:
        box = outbox(url, control)
        with pytest.raises(ToolError, match="try again in a minute"):
            await box.send(CALLER, "Hello")
        receipt = await box.send(CALLER, "Hello")
    assert not receipt.repeated and len(fake.messages) == 1


async def test_checks_before_sending() -> None:
    fake, control = FakeTwilio(), Control()
    async with serve(fake.app) as url:
        box = outbox(url, control, max_segments=2, max_per_call=2)
        for to, body, code in [
            (None, "Hello", "invalid_number"),
            ("+1415555", "Hello", "invalid_number"),
            (CALLER, "   ", "empty"),
            (CALLER, "x" * 307, "too_long"),
        ]:
            with pytest.raises(ToolError) as caught:
                await box.send(to, body)
            assert caught.value.code == code
        with pytest.raises(ToolError, match="under 306 characters"):
            await box.send(CALLER, "x" * 400)
        await box.send(CALLER, "one")
        await box.send(CALLER, "two")
        with pytest.raises(ToolError, match="At most 2 text messages"):
            await box.send(CALLER, "three")
    assert fake.requests == 2
    codes = [d["code"] for d in control.of("sms_failed")]
    assert codes == ["invalid_number"] * 2 + ["empty", "too_long", "too_long", "call_limit"]


async def test_events_and_info_logs_hold_no_number_and_no_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake, control = FakeTwilio(), Control()
    fake.landlines.add("+14155550199")
    caplog.set_level(logging.INFO)
    async with serve(fake.app) as url:
        box = outbox(url, control)
        await box.send(CALLER, "Secret reset code 777111")
        with pytest.raises(ToolError):
            await box.send("+14155550199", "Secret reset code 777111")
    shown = repr(control.events) + caplog.text
    for private in (CALLER, "+14155550199", "777111", AGENT_NUMBER, AUTH_TOKEN):
        assert private not in shown
    assert control.of("sms_sent")[0]["segments"] == 1


# -- set-up and the tool -------------------------------------------------------------------------


def _spec(**assistant: Any) -> Any:
    return spec_from_document(
        {
            "id": "call_sms",
            "direction": "inbound",
            "from_phone_number": CALLER,
            "to_phone_number": AGENT_NUMBER,
            "prompt_variables": {"first_name": "Ada"},
            "assistant": {"prompt": "Help.", **assistant},
        }
    )


def test_the_sending_number() -> None:
    spec = _spec(sms_enabled=True)
    none = IntegrationSettings()
    assert sending_number(spec, none) == AGENT_NUMBER  # the number the caller dialled
    chosen = IntegrationSettings.from_env({"TWILIO_FROM_NUMBER": "+14155550111"})
    assert sending_number(spec, chosen) == "+14155550111"
    own = _spec(sms_enabled=True, from_phone_number="+14155550122")
    assert sending_number(own, none) == "+14155550122"
    with pytest.raises(ProviderConfigError, match="sending number"):
        sending_number(spec, IntegrationSettings.from_env({"TWILIO_FROM_NUMBER": "12"}))
    with pytest.raises(ProviderConfigError, match="TWILIO_ACCOUNT_SID"):
        sms_outbox(spec, none, Control().event)


def _context(spec: Any, env: dict[str, str]) -> tuple[PluginContext, Control]:
    control = Control()
    integrations = IntegrationSettings.from_env(env)
    return PluginContext(spec, control, LocalLine(), integrations), control


def test_the_tool_is_offered_only_when_it_can_work() -> None:
    env = FakeTwilio().env("http://127.0.0.1:9")
    assert sms_plugin.tools(_context(_spec(), env)[0]) == []
    ctx, control = _context(_spec(sms_enabled=True), {})
    assert sms_plugin.tools(ctx) == []
    assert "TWILIO_ACCOUNT_SID" in control.of("sms_unavailable")[0]["reason"]
    (tool,) = sms_plugin.tools(_context(_spec(sms_enabled=True), env)[0])
    assert isinstance(tool, llm.RawFunctionTool)
    assert tool.info.raw_schema["parameters"]["required"] == ["message"]


async def test_a_template_is_sent_exactly_and_takes_no_argument() -> None:
    fake = FakeTwilio()
    async with serve(fake.app) as url:
        spec = _spec(
            sms_enabled=True, sms_template="Hi {{first_name}}, book at https://acme.example"
        )
        ctx, control = _context(spec, fake.env(url))
        (tool,) = sms_plugin.tools(ctx)
        assert isinstance(tool, llm.RawFunctionTool)
        schema = tool.info.raw_schema
        assert schema["parameters"]["properties"] == {}
        assert schema["description"].endswith("Hi Ada, book at https://acme.example")
        output = await tool({"message": "ignored"}, None)
        again = await tool({}, None)
    assert [m.body for m in fake.messages] == ["Hi Ada, book at https://acme.example"]
    assert output == sms_plugin.SENT and again == sms_plugin.NOT_RESENT


async def test_the_llm_message_is_sent_and_failures_are_tool_errors() -> None:
    fake = FakeTwilio()
    async with serve(fake.app) as url:
        ctx, _ = _context(_spec(sms_enabled=True), fake.env(url))
        (tool,) = sms_plugin.tools(ctx)
        assert isinstance(tool, llm.RawFunctionTool)
        assert await tool({"message": "It’s at 12 Market St."}, None) == sms_plugin.SENT
        with pytest.raises(llm.ToolError, match="Write the text"):
            await tool({"message": " "}, None)
        fake.opted_out.add(CALLER)
        with pytest.raises(llm.ToolError, match="opted out"):
            await tool({"message": "Another one"}, None)
    assert [m.body for m in fake.messages] == ["It's at 12 Market St."]

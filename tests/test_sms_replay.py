"""A recorded call where the LLM texts the caller, replayed against the local Twilio fake."""

from __future__ import annotations

import functools
import json
import logging
import tempfile
from pathlib import Path

import pytest

from agent_runtime.replay.expect import check
from agent_runtime.replay.run import ReplayResult

from .conftest import FIXTURES
from .fakes_twilio import AGENT_NUMBER, AUTH_TOKEN, FakeTwilio, collect_logs, replay_with_service

pytestmark = pytest.mark.replay

CALLER = "+14155550123"
LINK = "Acme: reset your password at https://acme.example/reset"


@functools.cache
def replayed(opted_out: bool) -> tuple[ReplayResult, FakeTwilio, list[logging.LogRecord]]:
    """The ``sms_link`` call, with the caller opted out of our texts or not."""
    fake = FakeTwilio()
    if opted_out:
        fake.opted_out.add(CALLER)
    with collect_logs() as records:
        result = replay_with_service(
            FIXTURES / "calls/sms_link",
            fake.app,
            fake.env,
            output_dir=Path(tempfile.mkdtemp(prefix="replay-sms-")),
        )
    return result, fake, records


def test_the_link_is_texted_once_although_the_llm_asks_twice() -> None:
    result, fake, _ = replayed(False)
    assert check(result.call.report, result.recorded.expect) == []
    (message,) = fake.messages
    assert (message.to, message.sender, message.body) == (CALLER, AGENT_NUMBER, LINK)
    assert "send_sms" in result.llm_requests[0].tool_names
    rows = [r for r in result.call.report.transcript or [] if r.role == "tool"]
    assert [(r.tool_name, r.tool_arguments, r.tool_is_error) for r in rows] == [
        ("send_sms", {"message": LINK}, False)
    ] * 2
    assert rows[0].tool_output == "Text message sent."
    assert rows[1].tool_output.endswith("not sent again.")  # type: ignore[union-attr]
    events = {e.type: e.detail for e in result.call.report.runtime.events}
    assert events["sms_sent"] == {
        "provider": "twilio",
        "message_sid": message.sid,
        "segments": 1,
        "encoding": "GSM-7",
        "purpose": "tool",
    }
    assert events["sms_not_resent"] == {"message_sid": message.sid, "purpose": "tool"}


def test_a_refused_message_is_a_tool_error_and_the_call_goes_on() -> None:
    result, fake, _ = replayed(True)
    rows = [r for r in result.call.report.transcript or [] if r.role == "tool"]
    assert [(r.tool_name, r.tool_is_error) for r in rows] == [("send_sms", True)] * 2
    assert all("opted out" in (r.tool_output or "") for r in rows)
    assert fake.messages == [] and fake.requests == 2  # surely not sent: asking again may retry
    failed = [e.detail for e in result.call.report.runtime.events if e.type == "sms_failed"]
    assert [f["code"] for f in failed] == ["opted_out"] * 2
    assert result.call.report.ended_by == "user"


@pytest.mark.parametrize("opted_out", [False, True])
def test_no_number_text_or_credential_in_events_or_info_logs(opted_out: bool) -> None:
    result, _, records = replayed(opted_out)
    events = json.dumps([e.model_dump(mode="json") for e in result.call.report.runtime.events])
    logged = "\n".join(r.getMessage() for r in records if r.levelno >= logging.INFO)
    for private in (CALLER, AGENT_NUMBER, "reset your password", AUTH_TOKEN):
        assert private not in events
        assert private not in logged
    assert AUTH_TOKEN not in result.call.report.to_json()

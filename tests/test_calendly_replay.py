"""A recorded call where the LLM finds a free time and books it, replayed against the local
Calendly fake (the token comes from the fake platform endpoint)."""

from __future__ import annotations

import functools
import json
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent_runtime.replay.expect import check
from agent_runtime.replay.run import ReplayResult

from .conftest import FIXTURES
from .fakes_calendly import INVALID, PLATFORM_AUTH, TOKEN, FakeCalendly, Scripted
from .fakes_twilio import collect_logs, replay_with_service

pytestmark = pytest.mark.replay

TUESDAY = [  # 1 PM, 2:30 PM and 4 PM in Los Angeles, the caller's time zone
    datetime(2031, 12, 2, 21, 0, tzinfo=UTC),
    datetime(2031, 12, 2, 22, 30, tzinfo=UTC),
    datetime(2031, 12, 3, 0, 0, tzinfo=UTC),
]
BOOKING = {"start_time": "2031-12-02T22:30:00Z", "name": "Jane Doe", "email": "jane@example.com"}
TAKEN = {
    **INVALID,
    "details": [
        {
            "parameter": "start_time",
            "code": "already_filled",
            "message": "The selected time is no longer available.",
        }
    ],
}


@functools.cache
def replayed(taken: bool) -> tuple[ReplayResult, FakeCalendly, list[logging.LogRecord]]:
    """The ``calendly_booking`` call; with ``taken``, someone else books the slot first."""
    fake = FakeCalendly(TUESDAY)
    if taken:
        fake.script["/invitees"] = [Scripted(400, TAKEN)]
    with collect_logs() as records:
        result = replay_with_service(
            FIXTURES / "calls/calendly_booking",
            fake.app,
            fake.env,
            output_dir=Path(tempfile.mkdtemp(prefix="replay-calendly-")),
        )
    return result, fake, records


def test_a_free_time_is_found_said_in_words_and_booked() -> None:
    result, fake, _ = replayed(False)
    assert check(result.call.report, result.recorded.expect) == []
    assert {"find_slots", "book_slot"} <= set(result.llm_requests[0].tool_names)
    find, book = [r for r in result.call.report.transcript or [] if r.role == "tool"]
    assert (find.tool_name, find.tool_arguments, find.tool_is_error) == (
        "find_slots",
        {"start_date": "2031-12-02"},
        False,
    )
    assert (find.tool_output or "").splitlines()[:4] == [
        "Free times on Tuesday, December 2, in the caller's time zone (America/Los_Angeles):",
        "- Tuesday, December 2 at 1 PM: start_time 2031-12-02T21:00:00Z",
        "- Tuesday, December 2 at 2:30 PM: start_time 2031-12-02T22:30:00Z",
        "- Tuesday, December 2 at 4 PM: start_time 2031-12-03T00:00:00Z",
    ]
    assert (book.tool_name, book.tool_arguments, book.tool_is_error) == (
        "book_slot",
        BOOKING,
        False,
    )
    assert book.tool_output == (
        "Booked for Tuesday, December 2 at 2:30 PM (America/Los_Angeles). "
        "A confirmation email goes to jane@example.com."
    )
    (booking,) = fake.bookings
    assert booking["start_time"] == "2031-12-02T22:30:00.000000Z"
    assert (booking["name"], booking["email"], booking["timezone"]) == (
        "Jane Doe",
        "jane@example.com",
        "America/Los_Angeles",
    )
    events = {e.type: e.detail for e in result.call.report.runtime.events}
    assert events["calendly_slots"] == {"found": 3, "days": 1}
    assert events["calendly_booked"]["invitee"] == booking["uri"]


def test_a_slot_taken_meanwhile_is_a_tool_error_the_llm_can_act_on() -> None:
    result, fake, _ = replayed(True)
    rows = [r for r in result.call.report.transcript or [] if r.role == "tool"]
    assert [(r.tool_name, r.tool_is_error) for r in rows] == [
        ("find_slots", False),
        ("book_slot", True),
    ]
    assert rows[1].tool_output == "That time is no longer available; look for other free times."
    assert fake.bookings == []
    failed = [e.detail for e in result.call.report.runtime.events if e.type == "calendly_failed"]
    assert failed == [{"operation": "book", "code": "slot_taken", "maybe_booked": False}]
    assert result.call.report.ended_by == "user"


@pytest.mark.parametrize("taken", [False, True])
def test_no_token_anywhere_and_no_email_in_events_or_info_logs(taken: bool) -> None:
    result, _, records = replayed(taken)
    report = result.call.report.to_json()
    llm_traffic = json.dumps([r.body for r in result.llm_requests])
    logged = "\n".join(r.getMessage() for r in records if r.levelno >= logging.INFO)
    events = json.dumps([e.model_dump(mode="json") for e in result.call.report.runtime.events])
    for secret in (TOKEN, PLATFORM_AUTH):
        assert secret not in report and secret not in llm_traffic and secret not in logged
    assert "jane@example.com" not in events and "jane@example.com" not in logged

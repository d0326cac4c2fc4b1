"""The five recorded calls, replayed through the whole runtime, and what their reports show."""

from __future__ import annotations

import json

import pytest

from agent_runtime.replay.expect import check

from .replays import agent_segments, caller_speech, replayed

pytestmark = pytest.mark.replay

CALLS = [
    "order_status",
    "interruption",
    "false_interruption",
    "hangup_mid_sentence",
    "end_call",
    "max_duration",
    "sms_link",  # these two replay their recorded Twilio and Calendly answers (http.json)
    "calendly_booking",
]


@pytest.mark.parametrize("name", CALLS)
def test_report_matches_what_the_recording_must_show(name: str) -> None:
    result = replayed(name)
    assert check(result.call.report, result.recorded.expect) == []
    assert result.call.report.status == "completed"
    assert result.call.report_path is not None and result.call.report_path.is_file()
    assert result.call.recording_path is not None and result.call.recording_path.is_file()


@pytest.mark.parametrize("name", CALLS)
def test_agent_never_starts_speaking_while_the_caller_speaks(name: str) -> None:
    result = replayed(name)
    speech = caller_speech(result)
    starts = [start for start, _, _ in agent_segments(result)]
    assert starts, "the agent never spoke"
    for start in starts:
        overlapping = [(a, b) for a, b in speech if a < start < b]
        assert overlapping == [], f"agent started at {start:.2f} while the caller spoke"


@pytest.mark.parametrize("name", CALLS)
def test_every_answered_turn_has_latency_figures(name: str) -> None:
    report = replayed(name).call.report
    answered = [t for t in report.runtime.latency if t.agent_started_speaking is not None]
    assert answered
    for turn in answered:
        assert turn.e2e_latency is not None and 0 < turn.e2e_latency < 4
        assert turn.end_of_turn_delay is not None


def test_order_status_tool_call_reaches_the_service_without_leaking_the_token() -> None:
    result = replayed("order_status")
    (request,) = result.http_requests
    assert request.method == "GET" and request.path_qs == "/orders/427"
    assert request.headers["Authorization"] == "Bearer crm-live-7f3a9c2e"
    report_json = result.call.report.to_json()
    assert "crm-live-7f3a9c2e" not in report_json
    assert all("crm-live-7f3a9c2e" not in json.dumps(r.body) for r in result.llm_requests)
    tool_names = result.llm_requests[0].tool_names
    assert tool_names == ["end_call", "check_order_status"]
    events = [e for e in result.call.report.runtime.events if e.type == "http_tool"]
    assert events[0].detail["outcome"] == "200"


def test_the_demo_call_decides_its_outcome_after_the_call() -> None:
    after_call = replayed("order_status").call.report.runtime.after_call
    assert after_call is not None
    assert [(s.name, s.status) for s in after_call.steps] == [
        ("outcome", "done"),
        ("faq_candidates", "done"),
    ]
    assert after_call.outcome == "completed"
    assert after_call.outcome_summary is not None and "427" in after_call.outcome_summary


def test_interruption_stops_the_agent_within_a_fraction_of_a_second() -> None:
    result = replayed("interruption")
    barge_in = caller_speech(result)[1][0]
    cut = [(start, end) for start, end, interrupted in agent_segments(result) if interrupted]
    assert len(cut) == 1
    start, end = cut[0]
    assert start < barge_in < end
    assert end - barge_in < 0.8
    row = result.call.report.transcript[2]  # type: ignore[index]
    assert len(row.content) < len("We are open Monday to Friday from eight in the morning") + 40


def test_sounds_without_words_pause_the_agent_which_then_resumes() -> None:
    result = replayed("false_interruption")
    _, start, end, interrupted = [("", *s) for s in agent_segments(result)][1]
    assert not interrupted
    coughs = [(at, at + 1.5) for at in (10.4, 14.0, 16.5)]  # "ahem", "mm-hm", humming
    assert all(start < a + result.caller_offset < end for a, _ in coughs)
    resumed = [e for e in result.call.report.runtime.events if e.type == "false_interruption"]
    assert len(resumed) == 3 and all(e.detail["resumed"] for e in resumed)
    # the whole answer was heard: the segment lasted its audio plus the pauses
    assert end - start > 11.0


def test_caller_hang_up_stops_the_call_at_once() -> None:
    result = replayed("hangup_mid_sentence")
    report = result.call.report
    hangup = result.recorded.hangup_at + result.caller_offset
    assert report.runtime.duration is not None
    assert report.runtime.duration == pytest.approx(hangup, abs=0.1)
    last_start, last_end, interrupted = agent_segments(result)[-1]
    assert interrupted and last_start < hangup
    assert last_end <= hangup + 0.05


def test_end_call_speaks_the_sentence_fully_then_hangs_up() -> None:
    result = replayed("end_call")
    start, end, interrupted = agent_segments(result)[-1]
    assert not interrupted
    assert end - start > 2.0  # "Thank you for calling Acme. Goodbye!" played to its end
    assert result.hung_up_at is not None
    assert result.hung_up_at + result.caller_offset == pytest.approx(end, abs=0.1)
    caller_hangup = result.recorded.hangup_at + result.caller_offset
    assert end < caller_hangup


def test_max_duration_goodbye_is_heard_over_the_caller_and_a_hung_llm() -> None:
    result = replayed("max_duration")
    report = result.call.report
    limit = 20.0
    start, end, interrupted = agent_segments(result)[-1]
    assert start == pytest.approx(limit, abs=0.1)
    assert not interrupted
    talking_over = [(a, b) for a, b in caller_speech(result) if a < end and b > start]
    assert talking_over, "the fixture must have the caller talk over the goodbye"
    assert result.hung_up_at is not None
    assert result.hung_up_at + result.caller_offset == pytest.approx(end, abs=0.1)
    assert report.runtime.duration is not None and report.runtime.duration < limit + 6
    assert [r.answered_with for r in result.llm_requests][-1] == 1  # the hung answer

"""The call report serialises to the call attempt JSON the API documents."""

from __future__ import annotations

from datetime import UTC, datetime

from agent_runtime.config.attempt import TranscriptRow
from agent_runtime.report.model import (
    CallEvent,
    CallReport,
    RuntimeSection,
    SpeechSegment,
    TurnLatency,
)

API_FIELDS = {
    "id",
    "phone_number",
    "started_at",
    "answered_at",
    "ended_at",
    "status",
    "result",
    "dial_error",
    "ended_by",
    "end_reason",
    "transcript",
    "structured_output",
    "recording_url",
}


def _report() -> CallReport:
    return CallReport(
        id="att_1",
        phone_number="+33612345678",
        started_at=datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC),
        answered_at=datetime(2026, 11, 21, 10, 0, 2, 500000, tzinfo=UTC),
        ended_at=datetime(2026, 11, 21, 10, 1, 0, tzinfo=UTC),
        status="completed",
        result="human",
        ended_by="agent",
        end_reason="tool_end_call",
        transcript=[
            TranscriptRow(role="assistant", content="Hello!"),
            TranscriptRow(role="user", content="Hi, where is my order?"),
            TranscriptRow(
                role="tool",
                tool_name="lookup_order",
                tool_arguments='{"order_id": "A1"}',
                tool_output="shipped",
                tool_is_error=False,
            ),
            TranscriptRow(role="tool", tool_name="raw", tool_arguments="not json", tool_output="x"),
        ],
        structured_output={"renews": True},
        recording_url="file:///tmp/rec.wav",
        runtime=RuntimeSection(
            call_id="call_1",
            speech=[SpeechSegment(role="assistant", start=0.4, end=1.2)],
            latency=[TurnLatency(user_stopped_speaking=3.0, agent_started_speaking=3.8)],
            warnings=["$.assistant.voice.speed: clamped"],
            events=[CallEvent(type="dtmf_sent", at=12.5, detail={"digits": "1"})],
        ),
    )


def test_api_json_has_exactly_the_documented_fields() -> None:
    data = _report().to_api_dict()
    assert set(data) == API_FIELDS
    assert data["started_at"] == "2026-11-21T10:00:00.000Z"
    assert data["answered_at"] == "2026-11-21T10:00:02.500Z"
    assert data["transcript"][2] == {
        "role": "tool",
        "content": "",
        "tool_name": "lookup_order",
        "tool_arguments": {"order_id": "A1"},
        "tool_output": "shipped",
        "tool_is_error": False,
    }
    assert data["transcript"][3]["tool_arguments"] == "not json"


def test_runtime_section_is_kept_apart() -> None:
    data = _report().to_dict()
    assert set(data) == API_FIELDS | {"runtime"}
    runtime = data["runtime"]
    assert runtime["events"] == [{"type": "dtmf_sent", "at": 12.5, "detail": {"digits": "1"}}]
    assert runtime["latency"][0]["agent_started_speaking"] == 3.8


def test_report_json_loads_back() -> None:
    report = _report()
    again = CallReport.model_validate_json(report.to_json())
    assert again == report

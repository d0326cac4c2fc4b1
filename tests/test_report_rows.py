"""Transcript rows are kept in the order things were said, each with its time."""

from __future__ import annotations

import time

from agent_runtime.config.loading import load_file
from agent_runtime.report.recorder import ReportRecorder

from .conftest import FIXTURES


def _recorder() -> tuple[ReportRecorder, float]:
    spec = load_file(FIXTURES / "calls/end_call/call.json")
    answered = time.time() - 10.0
    recorder = ReportRecorder(spec, attempt_id="att_rows", started_at=answered)
    recorder.answered_at = answered
    return recorder, answered


def test_the_caller_who_cuts_the_agent_off_comes_after_the_agent_s_words() -> None:
    recorder, answered = _recorder()
    recorder.add_agent_speech("Hello, how can I help?", answered + 0.4, answered + 2.0)
    recorder.unanswered("What are your hours?")  # said now: 10 s after the answer
    # the agent's answer began before the caller cut in, and is added once it stopped
    recorder.add_agent_speech("We are open from nine", answered + 9.0, answered + 10.5)
    report = recorder.report(
        ended_by="user",
        end_reason="user_hangup",
        status="completed",
        result=None,
        ended_at=time.time(),
    )
    rows = [(r.role, r.content) for r in report.transcript or []]
    assert rows == [
        ("assistant", "Hello, how can I help?"),
        ("assistant", "We are open from nine"),
        ("user", "What are your hours?"),
    ]
    assert report.runtime.transcript_at[:2] == [0.4, 9.0]
    assert report.runtime.transcript_at == sorted(report.runtime.transcript_at)


def test_rows_in_order_keep_their_order() -> None:
    recorder, answered = _recorder()
    recorder.add_agent_speech("Hello.", answered + 0.4, answered + 1.0)
    recorder.unanswered("Hi.")
    recorder.add_agent_speech("Goodbye.", time.time() + 0.1, time.time() + 1.0)
    report = recorder.report(
        ended_by="agent",
        end_reason="tool_end_call",
        status="completed",
        result=None,
        ended_at=time.time(),
    )
    assert [r.content for r in report.transcript or []] == ["Hello.", "Hi.", "Goodbye."]

"""A call's report is written as the call goes: a killed process loses no call.

The recorded demo call runs in a real ``agent-runtime replay`` process at real speed; it is
killed (SIGKILL) or asked to stop (SIGTERM) once its first transcript row is in the journal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agent_runtime.call.options import FAILURE_LINE
from agent_runtime.report.journal import JOURNAL, PROCESS_LOST, REPORT, recover
from agent_runtime.report.model import CallReport

from .conftest import FIXTURES, ROOT


def _start_call(out: Path) -> subprocess.Popen[bytes]:
    """The demo call in its own process, at real speed, until it has said its greeting."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent_runtime.cli",
            "replay",
            str(FIXTURES / "calls" / "order_status"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    journal = out / JOURNAL
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if journal.exists() and '"row"' in journal.read_text():
            return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise AssertionError("the call never wrote its first transcript row")


def _report(path: Path) -> CallReport:
    return CallReport.model_validate(json.loads(path.read_text()))


def test_a_killed_call_process_leaves_a_journal_that_becomes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "call"
    process = _start_call(out)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert not (out / REPORT).exists()
    with (out / JOURNAL).open("a") as journal:  # as if killed in the middle of a line
        journal.write('{"row": {"role": "user", "content": "cut he')
    assert recover(tmp_path) == [out / REPORT]
    report = _report(out / REPORT)
    assert (report.status, report.ended_by, report.end_reason) == ("error", "system", PROCESS_LOST)
    assert report.transcript and report.transcript[0].content.startswith("Hello, this is Alex")
    assert report.answered_at is not None and report.ended_at is not None
    assert any(e.type == "call_started" for e in report.runtime.events)
    assert not (out / JOURNAL).exists()
    assert recover(tmp_path) == []  # once


def test_sigterm_ends_a_replayed_call_cleanly_with_its_report(tmp_path: Path) -> None:
    out = tmp_path / "call"
    process = _start_call(out)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    report = _report(out / REPORT)
    assert (report.status, report.ended_by, report.end_reason) == ("error", "system", "shutdown")
    assert report.transcript and report.transcript[-1].content == FAILURE_LINE
    assert not (out / JOURNAL).exists()

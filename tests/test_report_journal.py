"""A call's report is written as the call goes: a killed process loses no call.

The recorded demo call runs in a real ``agent-runtime replay`` process at real speed; it is
killed (SIGKILL) or asked to stop (SIGTERM) once its first transcript row is in the journal.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from subprocess import Popen

from agent_runtime.call.options import FAILURE_LINE
from agent_runtime.post_call.lost_calls import queue_lost_calls
from agent_runtime.post_call.outbox import Outbox
from agent_runtime.report.journal import JOURNAL, PROCESS_LOST, REPORT, recover
from agent_runtime.report.model import CallReport

from .conftest import FIXTURES, ROOT


def _start_call(out: Path, folder: Path = FIXTURES / "calls" / "order_status") -> Popen[bytes]:
    """The demo call in its own process, at real speed, until it has said its greeting."""
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_runtime.cli", "replay", str(folder), "--out", str(out)],
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
    folder = tmp_path / "order_status"
    shutil.copytree(FIXTURES / "calls" / "order_status", folder)
    document = json.loads((folder / "call.json").read_text())
    document["call"]["assistant"]["webhook_url"] = "https://hooks.acme.example/calls"
    (folder / "call.json").write_text(json.dumps(document))
    out = tmp_path / "call"
    process = _start_call(out, folder)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert not (out / REPORT).exists()
    with (out / JOURNAL).open("a") as journal:  # as if killed in the middle of a line
        journal.write('{"row": {"role": "user", "content": "cut he')
    (lost,) = recover(tmp_path)
    assert lost.report_path == out / REPORT
    report = _report(out / REPORT)
    assert (report.status, report.ended_by, report.end_reason) == ("error", "system", PROCESS_LOST)
    assert report.transcript and report.transcript[0].content.startswith("Hello, this is Alex")
    assert report.answered_at is not None and report.ended_at is not None
    assert any(e.type == "call_started" for e in report.runtime.events)
    assert not (out / JOURNAL).exists()
    assert recover(tmp_path) == []  # once
    # and its webhook goes out like any other call's
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        (key,) = queue_lost_calls([lost], outbox)
        queued = outbox.get(key)
    finally:
        outbox.close()
    assert queued is not None and queued.payload["url"] == "https://hooks.acme.example/calls"
    event = json.loads(queued.payload["body"])
    assert event["call"]["id"] == "call_order_status"
    assert event["call_attempt"]["end_reason"] == PROCESS_LOST


def test_sigterm_ends_a_replayed_call_cleanly_with_its_report(tmp_path: Path) -> None:
    out = tmp_path / "call"
    process = _start_call(out)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    report = _report(out / REPORT)
    assert (report.status, report.ended_by, report.end_reason) == ("error", "system", "shutdown")
    said = [row.content for row in report.transcript or [] if row.role == "assistant"]
    assert said[-1] == FAILURE_LINE  # the goodbye is the last thing the agent said
    assert not (out / JOURNAL).exists()

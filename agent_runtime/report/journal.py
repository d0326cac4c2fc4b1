"""The report of a call in progress, written as the call goes: a dead process loses no call.

``report.journal``, next to where ``report.json`` will be, is an append-only JSON-lines file:
the report as it stood when the call started, then the answer time, each transcript row and
each call event as it happens (flushed to the operating system at once, so a process killed
with SIGKILL, by the OOM killer or with its pod leaves it complete up to its last line). The
runner removes it once ``report.json`` is written. A journal left behind belongs to a call whose
process died: ``recover`` turns it into the report the call would have had, with ``status``
error, ``ended_by`` system and ``end_reason`` ``process_lost``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config.attempt import TranscriptRow
from .model import CallEvent, CallReport

JOURNAL = "report.journal"
REPORT = "report.json"
PROCESS_LOST = "process_lost"


@dataclass(frozen=True)
class CallIdentity:
    """What the report of a lost call is delivered with: the call's own fields and webhook."""

    id: str
    direction: str
    metadata: dict[str, Any] = field(default_factory=dict)
    webhook_url: str | None = None


@dataclass(frozen=True)
class LostCall:
    """A call whose process died, and the report recovered from its journal."""

    report: CallReport
    report_path: Path
    call: CallIdentity


class Journal:
    """Appends a call's report, line by line, as the call goes."""

    def __init__(self, path: Path, start: CallReport, call: CallIdentity) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        self._line({"start": start.model_dump(mode="json"), "call": call.__dict__})

    def answered(self, at: float) -> None:
        """The call was answered at wall time ``at``."""
        self._line({"answered_at": at})

    def row(self, row: TranscriptRow, at: float) -> None:
        """A transcript row was added; it began ``at`` seconds from the answer."""
        self._line({"row": row.model_dump(mode="json"), "at": at})

    def event(self, event: CallEvent) -> None:
        """A call event was recorded."""
        self._line({"event": event.model_dump(mode="json")})

    def close(self) -> None:
        """The report is written: the journal is no longer needed (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.path.unlink(missing_ok=True)

    def _line(self, entry: dict[str, Any]) -> None:
        if self._fd >= 0:
            os.write(self._fd, (json.dumps(entry) + "\n").encode())


def recover(report_dir: Path) -> list[LostCall]:
    """Write the report of every call under ``report_dir`` whose process died; those calls.

    A journal whose report was written (the process died while removing it) is only removed.
    """
    lost: list[LostCall] = []
    for journal in sorted(report_dir.rglob(JOURNAL)):
        report_path = journal.with_name(REPORT)
        if not report_path.exists():
            found = _recovered(journal, report_path)
            if found is not None:
                report_path.write_text(found.report.to_json())
                lost.append(found)
        journal.unlink(missing_ok=True)
    return lost


def _recovered(journal: Path, report_path: Path) -> LostCall | None:
    """The report a journal's call would have had, ended by the loss of its process."""
    start: dict[str, Any] | None = None
    call: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    rows_at: list[float] = []
    events: list[dict[str, Any]] = []
    answered_at: float | None = None
    for line in journal.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # the line being written when the process died
        if "start" in entry:
            start, call = entry["start"], entry.get("call") or {}
        elif "answered_at" in entry:
            answered_at = float(entry["answered_at"])
        elif "row" in entry:
            rows.append(entry["row"])
            rows_at.append(float(entry.get("at", 0.0)))
        elif "event" in entry:
            events.append(entry["event"])
    if start is None:
        return None
    report = CallReport.model_validate(start)
    last = max((float(e["at"]) for e in events), default=0.0)
    started = report.started_at or datetime.now(UTC)
    runtime = report.runtime.model_copy(
        update={
            "events": [CallEvent.model_validate(e) for e in events],
            "transcript_at": rows_at,
            "duration": last,
            "error": "the call's process ended before the call did",
        }
    )
    recovered = report.model_copy(
        update={
            "status": "error",
            "ended_by": "system",
            "end_reason": PROCESS_LOST,
            "answered_at": report.answered_at
            if answered_at is None
            else datetime.fromtimestamp(answered_at, tz=UTC),
            "ended_at": datetime.fromtimestamp(started.timestamp() + last, tz=UTC),
            "transcript": [TranscriptRow.model_validate(r) for r in rows],
            "runtime": runtime,
        }
    )
    identity = CallIdentity(
        id=str(call.get("id", runtime.call_id or "")),
        direction=str(call.get("direction", runtime.direction or "")),
        metadata=dict(call.get("metadata") or {}),
        webhook_url=call.get("webhook_url"),
    )
    return LostCall(recovered, report_path, identity)

"""How the CLI shows a call: its transcript line by line as it happens, then a summary."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config.attempt import TranscriptRow
    from ..report.model import CallReport

_WHO = {"user": "caller", "assistant": "agent", "tool": "tool", "system": "system"}
_TOOL_OUTPUT_CHARS = 80


def row_line(row: TranscriptRow, at: float) -> str:
    """One transcript row, with when it began (seconds from the answer)."""
    if row.role == "tool":
        given = row.tool_arguments or {}
        arguments = (
            ", ".join(f"{k}={v}" for k, v in given.items()) if isinstance(given, dict) else given
        )
        output = (row.tool_output or "").replace("\n", " ")
        if len(output) > _TOOL_OUTPUT_CHARS:
            output = output[: _TOOL_OUTPUT_CHARS - 3] + "..."
        verdict = "error" if row.tool_is_error else "ok"
        text = f"{row.tool_name}({arguments}) -> {verdict}: {output}"
    else:
        text = row.content
    return f"{at:7.1f}s  {_WHO[row.role]:<6}  {text}"


def summary(report: CallReport, *, report_path: Path | None, recording_path: Path | None) -> str:
    """A short table of how the call went, and where its files are."""
    runtime = report.runtime
    rows = report.transcript or []
    turns = sum(1 for r in rows if r.role == "user")
    tools = sum(1 for r in rows if r.role == "tool")
    answers = [t.e2e_latency for t in runtime.latency if t.e2e_latency is not None]
    lines = [
        ("call", f"{runtime.direction or '-'}, {runtime.duration or 0:.1f} s"),
        (
            "ended",
            f"{report.end_reason} (by {report.ended_by}), status {report.status}, "
            f"result {report.result}",
        ),
        ("turns", f"{turns} caller, {len(answers)} answered, {tools} tool calls"),
    ]
    if answers:
        lines.append(
            (
                "answers",
                f"median {statistics.median(answers):.2f} s, slowest {max(answers):.2f} s "
                "(end of the caller's speech to the agent's voice)",
            )
        )
    if runtime.error:
        lines.append(("error", runtime.error))
    lines.extend(("warning", w) for w in runtime.warnings)
    if report_path is not None:
        lines.append(("report", str(report_path)))
    if recording_path is not None:
        lines.append(("recording", f"{recording_path} (caller left, what they heard right)"))
    return "\n".join(f"{name:<10} {value}" for name, value in lines)

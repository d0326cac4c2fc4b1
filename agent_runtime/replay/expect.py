"""Compare a call report with what a recorded call says it must show (``expect.json``).

``expect.json`` holds ``ended_by``, ``end_reason``, optionally ``status``, ``dial_error`` and
``result``, and ``transcript``:
one entry per row, in order, with ``role`` and any of ``content`` (exact), ``contains``,
``startswith``, ``tool_name``, ``tool_arguments``, ``tool_is_error``, ``output_contains``,
and ``interrupted`` (the row's speech was cut short).
"""

from __future__ import annotations

from typing import Any

from ..config.attempt import TranscriptRow
from ..report.model import CallReport


def _row_problems(index: int, row: TranscriptRow, want: dict[str, Any]) -> list[str]:
    found: list[str] = []
    where = f"transcript[{index}]"
    checks = {
        "role": row.role == want.get("role", row.role),
        "content": "content" not in want or row.content == want["content"],
        "contains": "contains" not in want or want["contains"] in row.content,
        "startswith": "startswith" not in want or row.content.startswith(want["startswith"]),
        "tool_name": "tool_name" not in want or row.tool_name == want["tool_name"],
        "tool_arguments": "tool_arguments" not in want
        or row.tool_arguments == want["tool_arguments"],
        "tool_is_error": "tool_is_error" not in want or row.tool_is_error == want["tool_is_error"],
        "output_contains": "output_contains" not in want
        or want["output_contains"] in (row.tool_output or ""),
    }
    for key, ok in checks.items():
        if not ok:
            actual = getattr(row, "tool_output" if key == "output_contains" else key, None)
            if key in ("contains", "startswith"):
                actual = row.content
            found.append(f"{where}.{key}: expected {want[key]!r}, got {actual!r}")
    return found


def check(report: CallReport, expect: dict[str, Any]) -> list[str]:
    """Every way ``report`` differs from ``expect``; empty when it matches."""
    problems: list[str] = []
    for key in ("ended_by", "end_reason", "status", "dial_error", "result"):
        if key in expect and getattr(report, key) != expect[key]:
            problems.append(f"{key}: expected {expect[key]!r}, got {getattr(report, key)!r}")
    wanted: list[dict[str, Any]] = expect.get("transcript", [])
    rows = report.transcript or []
    if len(rows) != len(wanted):
        got = [f"{r.role}:{r.tool_name or r.content[:30]}" for r in rows]
        problems.append(f"transcript: expected {len(wanted)} rows, got {len(rows)}: {got}")
    agent_segments = [s for s in report.runtime.speech if s.role == "assistant"]
    spoken = [r for r in rows if r.role == "assistant"]
    for index, (row, want) in enumerate(zip(rows, wanted, strict=False)):
        problems.extend(_row_problems(index, row, want))
        if "interrupted" in want and row in spoken:
            position = spoken.index(row)
            segment = agent_segments[position] if position < len(agent_segments) else None
            cut = segment.interrupted if segment else None
            if cut != want["interrupted"]:
                problems.append(
                    f"transcript[{index}].interrupted: expected {want['interrupted']}, got {cut}"
                )
    return problems

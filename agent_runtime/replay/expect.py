"""What a recorded call's report must show (``expect.json``), and the check against a report.

Every key is optional; a key that is given must match. ``ended_by``, ``end_reason``, ``status``,
``dial_error`` and ``result`` compare with the report's fields (``null`` included).
``transcript`` lists every row of the report's transcript, in order; each entry has ``role``
and any of ``content`` (exact), ``contains``, ``startswith``, ``tool_name``,
``tool_arguments``, ``tool_is_error``, ``output_contains``, and ``interrupted`` (the row's
speech was cut short). ``transfer`` is the outcome of the call's last ``transfer`` event
(``connected``, ``declined``...; ``null``: no transfer). An unknown key is an error, so a
typo cannot pass silently.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..config.attempt import TranscriptRow
from ..report.model import CallReport


class ExpectedRow(BaseModel):
    """One transcript row the report must show."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["assistant", "user", "tool", "system"] | None = None
    content: str | None = Field(default=None, description="The row's exact text.")
    contains: str | None = Field(default=None, description="Text the row's content contains.")
    startswith: str | None = Field(default=None, description="How the row's content begins.")
    tool_name: str | None = None
    tool_arguments: dict[str, Any] | None = None
    tool_is_error: bool | None = None
    output_contains: str | None = Field(default=None, description="Text in the tool's output.")
    interrupted: bool | None = Field(default=None, description="The row's speech was cut short.")


class Expectation(BaseModel):
    """``expect.json``: what the call report must show."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ended_by: str | None = None
    end_reason: str | None = None
    status: str | None = None
    dial_error: str | None = None
    result: str | None = None
    transfer: str | None = Field(
        default=None, description="The outcome of the last transfer event (null: none)."
    )
    transcript: list[ExpectedRow] | None = None


_FIELDS = ("ended_by", "end_reason", "status", "dial_error", "result")


def _row_problems(index: int, row: TranscriptRow, want: ExpectedRow) -> list[str]:
    found: list[str] = []
    where = f"transcript[{index}]"
    given = want.model_fields_set
    checks = {
        "role": row.role == want.role,
        "content": row.content == want.content,
        "contains": want.contains is not None and want.contains in row.content,
        "startswith": want.startswith is not None and row.content.startswith(want.startswith),
        "tool_name": row.tool_name == want.tool_name,
        "tool_arguments": row.tool_arguments == want.tool_arguments,
        "tool_is_error": row.tool_is_error == want.tool_is_error,
        "output_contains": want.output_contains is not None
        and want.output_contains in (row.tool_output or ""),
    }
    for key, ok in checks.items():
        if key in given and not ok:
            actual = getattr(row, "tool_output" if key == "output_contains" else key, None)
            if key in ("contains", "startswith"):
                actual = row.content
            found.append(f"{where}.{key}: expected {getattr(want, key)!r}, got {actual!r}")
    return found


def check(report: CallReport, expect: Expectation) -> list[str]:
    """Every way ``report`` differs from ``expect``; empty when it matches."""
    problems: list[str] = []
    for key in _FIELDS:
        if key in expect.model_fields_set and getattr(report, key) != getattr(expect, key):
            problems.append(
                f"{key}: expected {getattr(expect, key)!r}, got {getattr(report, key)!r}"
            )
    if "transfer" in expect.model_fields_set:
        outcomes = [e.detail.get("outcome") for e in report.runtime.events if e.type == "transfer"]
        outcome = outcomes[-1] if outcomes else None
        if outcome != expect.transfer:
            problems.append(f"transfer: expected {expect.transfer!r}, got {outcome!r}")
    if expect.transcript is None:
        return problems
    wanted = expect.transcript
    rows = report.transcript or []
    if len(rows) != len(wanted):
        got = [f"{r.role}:{r.tool_name or r.content[:30]}" for r in rows]
        problems.append(f"transcript: expected {len(wanted)} rows, got {len(rows)}: {got}")
    agent_segments = [s for s in report.runtime.speech if s.role == "assistant"]
    spoken = [r for r in rows if r.role == "assistant"]
    for index, (row, want) in enumerate(zip(rows, wanted, strict=False)):
        problems.extend(_row_problems(index, row, want))
        if want.interrupted is not None and row in spoken:
            position = spoken.index(row)
            segment = agent_segments[position] if position < len(agent_segments) else None
            cut = segment.interrupted if segment else None
            if cut != want.interrupted:
                problems.append(
                    f"transcript[{index}].interrupted: expected {want.interrupted}, got {cut}"
                )
    return problems

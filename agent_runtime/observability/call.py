"""One call, watched: its log fields, its ``call`` span, and its metrics."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from livekit.agents import telemetry
from opentelemetry import trace

from ..log import call_fields
from ..media.output import OutputStats
from ..report.model import CallReport
from . import metrics


class ObservedCall:
    """The runner's single hook: ``running`` around the call, ``ended`` with its report."""

    def __init__(self, *, call_id: str, attempt_id: str, direction: str) -> None:
        self._fields: dict[str, object] = {"call_id": call_id, "attempt_id": attempt_id}
        self._direction = direction
        self._span: trace.Span = trace.INVALID_SPAN

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Log fields, span and the active-calls gauge, for as long as the call runs."""
        with (
            call_fields(self._fields),
            telemetry.tracer.start_as_current_span(
                "call", attributes={"agent.direction": self._direction}
            ) as span,
        ):
            self._span = span
            metrics.call_started(self._direction)
            try:
                yield
            finally:
                metrics.call_stopped(self._direction)

    def ended(self, report: CallReport, output: OutputStats) -> None:
        """Count the call's end from its report; the ``call`` span records how it ended."""
        metrics.call_ended(report, output)
        self._span.set_attributes(
            {
                "agent.status": report.status,
                "agent.ended_by": report.ended_by or "",
                "agent.end_reason": report.end_reason or "",
                "agent.result": report.result or "",
            }
        )

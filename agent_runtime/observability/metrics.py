"""The call metrics, counted from each call's report when it ends.

Every figure of a call comes from its ``CallReport`` (and its output stream's counts), so the
metrics say what the report says. Labels are bounded words (``labels.label``): an end reason,
a result, a provider; never a number, an id or a name a customer chose.

The metrics are created on first use, in the process that runs calls: in the worker that is a
job process, whose figures go to the multiprocess directory (see ``server``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

from ..media.output import OutputStats
from ..report.model import CallReport
from .labels import flag, label

LATENCY_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0)
"""Seconds; a phone caller notices a pause from about one second."""
FAST_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
"""Seconds, for the parts of an answer (end of turn, first token, first audio byte)."""


@dataclass(frozen=True)
class CallMetrics:
    """The metric families of calls."""

    active: Gauge
    started: Counter
    ended: Counter
    dial_errors: Counter
    duration: Histogram
    answer_latency: Histogram
    end_of_turn_delay: Histogram
    llm_ttft: Histogram
    tts_ttfb: Histogram
    provider_errors: Counter
    turn_retries: Counter
    tool_calls: Counter
    output_frames: Counter
    late_frames: Counter
    late_seconds: Counter


@functools.cache
def call_metrics() -> CallMetrics:
    """The process's call metrics (registered in the default registry on first use)."""
    return CallMetrics(
        active=Gauge(
            "agent_calls_active",
            "Calls running now.",
            ["direction"],
            multiprocess_mode="livesum",
        ),
        started=Counter("agent_calls_started", "Calls that started running.", ["direction"]),
        ended=Counter(
            "agent_calls_ended",
            "Calls that ended, by how (calls that could not run are counted here only).",
            ["direction", "status", "ended_by", "end_reason", "result"],
        ),
        dial_errors=Counter(
            "agent_dial_errors", "Outbound calls not answered, by dial error.", ["dial_error"]
        ),
        duration=Histogram(
            "agent_call_duration_seconds",
            "Length of calls, from start to hang-up.",
            ["direction"],
            buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
        ),
        answer_latency=Histogram(
            "agent_answer_latency_seconds",
            "From the end of the caller's speech to the agent's first audio, per answered turn.",
            buckets=LATENCY_BUCKETS,
        ),
        end_of_turn_delay=Histogram(
            "agent_end_of_turn_delay_seconds",
            "From the end of the caller's speech to the decision that the turn was over.",
            buckets=FAST_BUCKETS,
        ),
        llm_ttft=Histogram(
            "agent_llm_ttft_seconds", "LLM time to first token, per answer.", buckets=FAST_BUCKETS
        ),
        tts_ttfb=Histogram(
            "agent_tts_ttfb_seconds", "TTS time to first audio, per answer.", buckets=FAST_BUCKETS
        ),
        provider_errors=Counter(
            "agent_provider_errors",
            "Provider errors during calls; recoverable ones were retried by the framework.",
            ["source", "recoverable"],
        ),
        turn_retries=Counter(
            "agent_turn_retries", "Turns the runtime asked again after the LLM failed them."
        ),
        tool_calls=Counter("agent_tool_calls", "Tool calls made by the agent.", ["outcome"]),
        output_frames=Counter("agent_output_frames", "Audio frames paced out to callers."),
        late_frames=Counter(
            "agent_output_late_frames", "Output frames that missed their deadline (a gap)."
        ),
        late_seconds=Counter(
            "agent_output_late_seconds", "Seconds of gap the late output frames caused."
        ),
    )


def call_started(direction: str) -> None:
    """A call starts running."""
    metrics = call_metrics()
    metrics.started.labels(label(direction)).inc()
    metrics.active.labels(label(direction)).inc()


def call_stopped(direction: str) -> None:
    """A started call is no longer running (whatever ended it)."""
    call_metrics().active.labels(label(direction)).dec()


def call_ended(report: CallReport, output: OutputStats | None = None) -> None:
    """Count a call's end and everything its report measured."""
    metrics = call_metrics()
    runtime = report.runtime
    metrics.ended.labels(
        label(runtime.direction),
        label(report.status),
        label(report.ended_by),
        label(report.end_reason),
        label(report.result),
    ).inc()
    if report.dial_error is not None:
        metrics.dial_errors.labels(label(report.dial_error)).inc()
    if runtime.duration is not None:
        metrics.duration.labels(label(runtime.direction)).observe(runtime.duration)
    for turn in runtime.latency:
        for histogram, value in (
            (metrics.answer_latency, turn.e2e_latency),
            (metrics.end_of_turn_delay, turn.end_of_turn_delay),
            (metrics.llm_ttft, turn.llm_ttft),
            (metrics.tts_ttfb, turn.tts_ttfb),
        ):
            if value is not None:
                histogram.observe(value)
    for event in runtime.events:
        if event.type == "provider_error":
            metrics.provider_errors.labels(
                label(event.detail.get("source")), flag(event.detail.get("recoverable"))
            ).inc()
        elif event.type == "llm_turn_retried":
            metrics.turn_retries.inc()
    for row in report.transcript or []:
        if row.role == "tool":
            metrics.tool_calls.labels("error" if row.tool_is_error else "ok").inc()
    if output is not None:
        metrics.output_frames.inc(output.frames)
        metrics.late_frames.inc(output.late_frames)
        metrics.late_seconds.inc(output.late_seconds)

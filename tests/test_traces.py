"""OpenTelemetry traces of a replayed call, through the framework's tracer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_runtime.observability.settings import TraceSettings
from agent_runtime.observability.traces import install_tracing, uninstall_tracing
from agent_runtime.replay.run import ReplayResult, run_replay
from agent_runtime.worker.settings import WorkerSettings

from .conftest import FIXTURES

pytestmark = pytest.mark.replay

CALLER = "4155550123"
SAID = ["where my order is", "That is all I needed"]
"""What the caller said in the recorded call."""


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    uninstall_tracing()


def _replay(exporter: InMemorySpanExporter, tmp_path: Path, *, content: bool) -> ReplayResult:
    install_tracing(exporter, service_name="agent-runtime-test", content=content, batch=False)
    return run_replay(FIXTURES / "calls" / "order_status", fast=True, output_dir=tmp_path)


def _text(spans: list[ReadableSpan]) -> str:
    """Every attribute and event of ``spans``, as one text."""
    parts = []
    for span in spans:
        parts.append(json.dumps(dict(span.attributes or {}), default=str, ensure_ascii=False))
        for event in span.events:
            parts.append(event.name)
            parts.append(json.dumps(dict(event.attributes or {}), default=str))
    return "\n".join(parts)


def test_a_call_is_one_trace_of_its_turns_requests_and_tools(
    exported: InMemorySpanExporter, tmp_path: Path
) -> None:
    result = _replay(exported, tmp_path, content=False)
    report = result.call.report
    spans = list(exported.get_finished_spans())
    (call,) = [s for s in spans if s.name == "call"]
    assert call.parent is None
    assert call.attributes is not None
    assert call.attributes["agent.attempt_id"] == report.id
    assert call.attributes["agent.end_reason"] == "user_hangup"
    assert call.attributes["agent.direction"] == "inbound"
    assert call.context is not None
    trace_id = call.context.trace_id
    in_call = [s for s in spans if s.context is not None and s.context.trace_id == trace_id]
    (session,) = [s for s in in_call if s.name == "agent_session"]
    assert session.parent is not None and session.parent.span_id == call.context.span_id
    names = [s.name for s in in_call]
    user_turns = [row for row in report.transcript or [] if row.role == "user"]
    assert names.count("user_turn") == len(user_turns) == 2
    assert names.count("llm_request") >= 3  # two answers, and the tool call's request
    assert "tts_request" in names
    (tool,) = [s for s in in_call if s.name == "function_tool"]
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.tool.name"] == "check_order_status"
    assert tool.attributes["lk.function_tool.is_error"] is False
    # every span of the call says which call attempt it belongs to
    for span in in_call:
        assert span.attributes is not None
        assert span.attributes["agent.attempt_id"] == report.id, span.name
        assert span.attributes["agent.call_id"] == "call_order_status", span.name
    # and none carries the caller's number or what was said (the framework's PII filter)
    text = _text(spans)
    assert CALLER not in text
    for words in SAID:
        assert words not in text
    assert "four two seven" not in text
    # ("427" may be in any timing figure: the tool's payload is checked by its attributes)
    assert not {"gen_ai.tool.call.arguments", "gen_ai.tool.call.result"} & set(tool.attributes)


def test_what_was_said_is_traced_only_when_asked(
    exported: InMemorySpanExporter, tmp_path: Path
) -> None:
    _replay(exported, tmp_path, content=True)
    spans = list(exported.get_finished_spans())
    text = _text(spans)
    for words in SAID:
        assert words in text
    (tool,) = [s for s in spans if s.name == "function_tool"]
    assert tool.attributes is not None
    assert "427" in str(tool.attributes["gen_ai.tool.call.arguments"])
    assert CALLER not in text


def test_traces_are_off_unless_an_otlp_endpoint_is_set() -> None:
    assert not WorkerSettings.from_env({}).observability.traces.enabled
    settings = TraceSettings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert settings.enabled and settings.protocol == "http/protobuf" and not settings.content
    assert TraceSettings.from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318"}).enabled

"""OpenTelemetry traces of calls, through the framework's tracer.

The framework traces a session (``agent_session``), its turns (``user_turn``,
``agent_turn``), LLM requests (``llm_node``, ``llm_request``), speech (``tts_node``,
``tts_request``) and tool calls (``function_tool``); the runner wraps them in a ``call`` span.
Every span started during a call carries ``agent.call_id`` and ``agent.attempt_id``. Spans say
what was said only when ``AGENT_TRACE_CONTENT`` is on: otherwise the framework's PII filter
drops transcripts, prompts and tool payloads before any exporter.
"""

from __future__ import annotations

from livekit.agents import telemetry
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from ..log import current_call_fields
from .settings import TraceSettings

ATTRIBUTE_PREFIX = "agent."

_provider: TracerProvider | None = None


class CallSpanProcessor(SpanProcessor):
    """Stamps the running call's ids on every span it starts."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Add ``agent.call_id`` and ``agent.attempt_id``."""
        for name, value in current_call_fields().items():
            span.set_attribute(ATTRIBUTE_PREFIX + name, str(value))


def install_tracing(
    exporter: SpanExporter, *, service_name: str, content: bool, batch: bool = True
) -> TracerProvider:
    """Send the framework's spans and the runtime's to ``exporter`` from now on.

    ``content``: let spans carry what was said (the framework's ``allow_pii``). ``batch``:
    export in the background (else each span as it ends).
    """
    global _provider
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(CallSpanProcessor())
    provider.add_span_processor(
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    telemetry.set_tracer_provider(provider, allow_pii=content)
    if _provider is not None:
        _provider.shutdown()
    _provider = provider
    return provider


def configure_tracing(settings: TraceSettings) -> None:
    """Export to the configured OTLP endpoint, once per process; nothing when none is set."""
    if _provider is not None or not settings.enabled:
        return
    exporter: SpanExporter
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        exporter = HttpSpanExporter()
    install_tracing(exporter, service_name=settings.service_name, content=settings.content)


def flush_traces(timeout_seconds: float = 5.0) -> None:
    """Export the spans still held (a job process may end right after its call)."""
    if _provider is not None:
        _provider.force_flush(int(timeout_seconds * 1000))


def uninstall_tracing() -> None:
    """Stop exporting: the framework's tracer goes back to the global (no-op) provider."""
    global _provider
    if _provider is None:
        return
    from opentelemetry import trace

    telemetry.tracer.set_provider(trace.get_tracer_provider())
    _provider.shutdown()
    _provider = None

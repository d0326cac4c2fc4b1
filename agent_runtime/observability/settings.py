"""What the worker reads from its environment to be watched."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from ..settings import EnvModel


class MetricsSettings(EnvModel):
    """The Prometheus endpoint.

    ``AGENT_METRICS_PORT`` (off when unset), ``AGENT_METRICS_HOST``, ``AGENT_METRICS_DIR``
    (where job processes write their figures).
    """

    port: int | None = Field(None, ge=1, le=65535, alias="AGENT_METRICS_PORT")
    host: str = Field("0.0.0.0", alias="AGENT_METRICS_HOST")
    directory: Path | None = Field(None, alias="AGENT_METRICS_DIR")
    """Default: ``<temp dir>/agent-runtime-metrics-<port>``. Emptied when the worker starts."""

    @property
    def enabled(self) -> bool:
        """Whether the worker serves ``/metrics``."""
        return self.port is not None

    @property
    def files(self) -> Path | None:
        """The multiprocess directory, when metrics are on."""
        if self.port is None:
            return None
        return self.directory or Path(tempfile.gettempdir()) / f"agent-runtime-metrics-{self.port}"

    @property
    def files_dir(self) -> str | None:
        """``files`` as the framework takes it (``AgentServer(prometheus_multiproc_dir=...)``)."""
        return None if self.files is None else str(self.files)


class TraceSettings(EnvModel):
    """OpenTelemetry traces, on when an OTLP endpoint is set (the standard variables).

    ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
    ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf`` or ``grpc``), ``OTEL_SERVICE_NAME``, and
    ``AGENT_TRACE_CONTENT`` (send the conversation's text and tool payloads; off by default).
    """

    endpoint: str | None = Field(None, alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    traces_endpoint: str | None = Field(None, alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    protocol: Literal["http/protobuf", "grpc"] = Field(
        "http/protobuf", alias="OTEL_EXPORTER_OTLP_PROTOCOL"
    )
    service_name: str = Field("agent-runtime", alias="OTEL_SERVICE_NAME")
    content: bool = Field(False, alias="AGENT_TRACE_CONTENT")
    """Whether spans may carry what was said (transcripts, prompts, tool arguments)."""

    @property
    def enabled(self) -> bool:
        """Whether spans are exported."""
        return bool(self.traces_endpoint or self.endpoint)


class ObservabilitySettings(EnvModel):
    """Metrics and traces (the log fields need no setting)."""

    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    traces: TraceSettings = Field(default_factory=TraceSettings)

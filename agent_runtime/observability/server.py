"""The worker's ``/metrics`` endpoint, served from a thread of its main process.

Calls run in job processes: each writes its figures to the multiprocess directory (the
framework points job processes at it, ``AgentServer(prometheus_multiproc_dir=...)``), and the
endpoint merges the files when scraped, with the outbox and the process tree read at that
moment. The framework's own ``prometheus_port`` endpoint is not used: it serves the files
only, with no room for figures read at scrape time.
"""

from __future__ import annotations

import threading
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

from ..post_call.outbox import Outbox
from .collectors import JobFilesCollector, OutboxCollector, ProcessTreeCollector
from .settings import MetricsSettings


class MetricsServer:
    """An HTTP server of one registry's metrics (any path), until ``close``."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        job_files: Path | None,
        outbox_path: Path | None,
    ) -> None:
        """``job_files``: the multiprocess directory, else this process's default registry."""
        self._outbox = Outbox(outbox_path) if outbox_path is not None else None
        self.registry = CollectorRegistry()
        self.registry.register(JobFilesCollector(job_files) if job_files else REGISTRY)
        self.registry.register(ProcessTreeCollector())
        if self._outbox is not None:
            self.registry.register(OutboxCollector(self._outbox))
        self._http: WSGIServer
        self._thread: threading.Thread
        self._http, self._thread = start_http_server(port, host, self.registry)

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen by the system when asked for 0)."""
        return int(self._http.server_port)

    def close(self) -> None:
        """Stop serving and release the port and the outbox."""
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()
        if self._outbox is not None:
            self._outbox.close()


def start_metrics_server(settings: MetricsSettings, outbox_path: Path) -> MetricsServer | None:
    """The worker's endpoint, when ``AGENT_METRICS_PORT`` is set."""
    if settings.port is None:
        return None
    return MetricsServer(
        host=settings.host, port=settings.port, job_files=settings.files, outbox_path=outbox_path
    )

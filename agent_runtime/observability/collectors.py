"""Figures read when Prometheus scrapes: job processes' files, the outbox, the process tree."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

import psutil
from prometheus_client import REGISTRY, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..post_call.outbox import Outbox
from .labels import label

_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")
WAITING = ("pending", "sending")
FRAMEWORK_PREFIX = "lk_agents_"
"""The framework's metrics. The worker's main process keeps its own in memory (it imported
the metrics library before the framework set the multiprocess directory)."""


class JobFilesCollector(Collector):
    """The metrics of all the worker's processes.

    Those every process wrote to the multiprocess directory, merged, and the framework's kept
    in this process's memory (``lk_agents_*``: the worker's load, its job count). A process
    that died without lowering its live gauges (a crashed job) is forgotten first, so
    ``agent_calls_active`` counts the calls of live processes only.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._directory = directory
        self._merged = multiprocess.MultiProcessCollector(None, path=str(directory))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        """Merge the files of all processes (dead processes' live gauges removed)."""
        for name in os.listdir(self._directory):
            match = _LIVE_GAUGE_FILE.fullmatch(name)
            if match and not psutil.pid_exists(int(match.group(1))):
                multiprocess.mark_process_dead(int(match.group(1)), str(self._directory))  # type: ignore[no-untyped-call]
        merged: list[Metric] = list(self._merged.collect())  # type: ignore[no-untyped-call]
        written = {metric.name for metric in merged}
        in_memory = [
            metric
            for metric in REGISTRY.collect()
            if metric.name.startswith(FRAMEWORK_PREFIX) and metric.name not in written
        ]
        return [*merged, *in_memory]


class OutboxCollector(Collector):
    """The after-call deliveries in the outbox, by kind and state; the oldest one's wait."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def collect(self) -> Iterable[Metric]:
        """Count the outbox's rows now."""
        deliveries = GaugeMetricFamily(
            "agent_post_call_deliveries",
            "After-call deliveries in the outbox by state: pending and sending are the backlog, "
            "failed were given up.",
            labels=["kind", "state"],
        )
        oldest = GaugeMetricFamily(
            "agent_post_call_oldest_waiting_seconds",
            "How long the oldest delivery not yet made has waited.",
            labels=["kind"],
        )
        now = time.time()
        waiting_since: dict[str, float] = {}
        for kind, state, count, first in self._outbox.tally():
            deliveries.add_metric([label(kind), state], count)
            if state in WAITING:
                waiting_since[kind] = min(first, waiting_since.get(kind, first))
        for kind, first in waiting_since.items():
            oldest.add_metric([label(kind)], max(0.0, now - first))
        return [deliveries, oldest]


class ProcessTreeCollector(Collector):
    """CPU and memory of this process and all its descendants (the worker and its jobs)."""

    def __init__(self, root: psutil.Process | None = None) -> None:
        self._root = root or psutil.Process()

    def collect(self) -> Iterable[Metric]:
        """Read the process tree now."""
        processes = [self._root, *self._root.children(recursive=True)]
        cpu = memory = largest = 0.0
        alive = 0
        for process in processes:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    rss = float(process.memory_info().rss)
            except psutil.Error:
                continue  # it ended while being read
            alive += 1
            cpu += times.user + times.system + times.children_user + times.children_system
            memory += rss
            if process is not self._root:
                largest = max(largest, rss)
        return [
            GaugeMetricFamily("agent_worker_processes", "Processes of the worker.", value=alive),
            CounterMetricFamily(
                "agent_worker_cpu_seconds",
                "CPU time of the worker and its processes (ended ones included).",
                value=cpu,
            ),
            GaugeMetricFamily(
                "agent_worker_resident_memory_bytes",
                "Resident memory of the worker and its processes.",
                value=memory,
            ),
            GaugeMetricFamily(
                "agent_worker_largest_child_memory_bytes",
                "Resident memory of the worker's largest child process (a job).",
                value=largest,
            ),
        ]

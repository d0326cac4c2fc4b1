"""Prometheus metrics of calls, scraped over HTTP the way a fleet's Prometheus does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from livekit.agents import utils as lk_utils
from livekit.agents.telemetry import metrics as lk_metrics
from prometheus_client.parser import text_string_to_metric_families

from agent_runtime.errors import SettingsError
from agent_runtime.observability.metrics import LATENCY_BUCKETS
from agent_runtime.observability.server import MetricsServer, start_metrics_server
from agent_runtime.observability.settings import MetricsSettings
from agent_runtime.post_call.outbox import Outbox
from agent_runtime.replay.run import run_replay
from agent_runtime.report.model import CallReport
from agent_runtime.worker.settings import WorkerSettings

from .conftest import FIXTURES, ROOT

ORDER_STATUS = FIXTURES / "calls" / "order_status"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> tuple[Samples, set[str]]:
    """Every sample of ``/metrics``, and every label value seen."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    samples: Samples = {}
    values: set[str] = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
            values.update(sample.labels.values())
    return samples, values


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def private_values(report: CallReport, call_document: dict[str, object]) -> list[str]:
    call = call_document["call"]
    assert isinstance(call, dict)
    numbers = [call["from_phone_number"], call["to_phone_number"]]
    digits = [str(n).lstrip("+") for n in numbers]
    return [*map(str, numbers), *digits, str(call["id"]), report.id]


@pytest.fixture
def in_process_server(tmp_path: Path) -> Iterator[MetricsServer]:
    server = MetricsServer(
        host="127.0.0.1", port=0, job_files=None, outbox_path=tmp_path / "outbox.sqlite3"
    )
    yield server
    server.close()


@pytest.mark.replay
def test_a_replayed_call_is_counted_from_its_report(
    in_process_server: MetricsServer, tmp_path: Path
) -> None:
    before, _ = scrape(in_process_server.port)
    result = run_replay(ORDER_STATUS, fast=True, output_dir=tmp_path / "call")
    after, labels = scrape(in_process_server.port)
    report = result.call.report

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert (report.end_reason, report.result) == ("user_hangup", "human")
    ended = {
        "direction": "inbound",
        "status": "completed",
        "ended_by": "user",
        "end_reason": "user_hangup",
        "result": "human",
    }
    assert delta("agent_calls_ended_total", **ended) == 1
    assert delta("agent_calls_started_total", direction="inbound") == 1
    assert value(after, "agent_calls_active", direction="inbound") == value(
        before, "agent_calls_active", direction="inbound"
    )
    # every answered turn of the report is in the latency histogram, with its value
    latencies = [t.e2e_latency for t in report.runtime.latency if t.e2e_latency is not None]
    assert len(latencies) == 2
    assert delta("agent_answer_latency_seconds_count") == len(latencies)
    assert delta("agent_answer_latency_seconds_sum") == pytest.approx(sum(latencies))
    for bound in LATENCY_BUCKETS:
        within = sum(1 for latency in latencies if latency <= bound)
        assert delta("agent_answer_latency_seconds_bucket", le=str(bound)) == within, bound
    eot = [t.end_of_turn_delay for t in report.runtime.latency if t.end_of_turn_delay is not None]
    assert delta("agent_end_of_turn_delay_seconds_sum") == pytest.approx(sum(eot))
    assert delta("agent_llm_ttft_seconds_count") == len(latencies)
    # the order lookup went through
    tools = [row for row in report.transcript or [] if row.role == "tool"]
    assert len(tools) == 1 and not tools[0].tool_is_error
    assert delta("agent_tool_calls_total", outcome="ok") == 1
    assert delta("agent_tool_calls_total", outcome="error") == 0
    stats = result.call.output_stats
    assert delta("agent_output_frames_total") == stats.frames > 0
    assert delta("agent_output_late_frames_total") == stats.late_frames
    assert delta("agent_call_duration_seconds_sum", direction="inbound") == pytest.approx(
        report.runtime.duration
    )
    # the process itself
    assert value(after, "agent_worker_resident_memory_bytes") > 50e6
    assert value(after, "agent_worker_cpu_seconds_total") > 0
    # no label carries a phone number, the call id or the attempt id
    document = json.loads((ORDER_STATUS / "call.json").read_text())
    for private in private_values(report, document):
        assert not [v for v in labels if private in v], private


def test_the_outbox_backlog_and_failures_are_read_at_scrape_time(
    in_process_server: MetricsServer, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        now = time.time()
        outbox.add("webhook:att_1", "webhook", {"to": "+14155550123"}, now=now - 90)
        outbox.add("webhook:att_2", "webhook", {}, now=now - 30)
        outbox.add("sms:att_1", "sms", {}, at_most_once=True, now=now - 60)
        outbox.add("email:att_1", "email", {}, now=now)
        outbox.done("email:att_1", "sent")
        outbox.give_up("sms:att_1", "refused")
        samples, labels = scrape(in_process_server.port)
        assert value(samples, "agent_post_call_deliveries", kind="webhook", state="pending") == 2
        assert value(samples, "agent_post_call_deliveries", kind="sms", state="failed") == 1
        assert value(samples, "agent_post_call_deliveries", kind="email", state="done") == 1
        oldest = value(samples, "agent_post_call_oldest_waiting_seconds", kind="webhook")
        assert 90 <= oldest < 90 + 60  # the oldest pending webhook, not the newer one
        assert ("agent_post_call_oldest_waiting_seconds", frozenset({("kind", "sms")})) not in (
            samples
        )
        # a delivery gone through is no longer waiting
        outbox.done("webhook:att_1", "HTTP 200")
        samples, _ = scrape(in_process_server.port)
        assert value(samples, "agent_post_call_deliveries", kind="webhook", state="pending") == 1
        assert value(samples, "agent_post_call_oldest_waiting_seconds", kind="webhook") < 90
        assert not [v for v in labels if "4155550123" in v or "att_" in v]
    finally:
        outbox.close()


# -- the worker's way: calls in job processes, /metrics in the main process --------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _child(code: str, files: Path, *args: str) -> subprocess.Popen[str]:
    """A Python process writing its metrics to ``files``, as a job process does."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(files)},
        cwd=ROOT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )


@pytest.mark.replay
def test_a_call_in_a_child_process_is_scraped_from_the_parent(tmp_path: Path) -> None:
    files = tmp_path / "metrics"
    files.mkdir()
    out = tmp_path / "call"
    replay = subprocess.run(
        [sys.executable, "-m", "agent_runtime.cli", "replay", str(ORDER_STATUS), "--fast"]
        + ["--out", str(out)],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(files)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert replay.returncode == 0, replay.stderr[-2000:]
    report = CallReport.model_validate_json((out / "report.json").read_text())
    # the worker's own start-up path, on a port free a moment ago
    settings = MetricsSettings.from_env(
        {"AGENT_METRICS_PORT": str(_free_port()), "AGENT_METRICS_HOST": "127.0.0.1"}
    ).model_copy(update={"directory": files})
    server = start_metrics_server(settings, tmp_path / "outbox.sqlite3")
    assert server is not None
    lk_metrics.job_started()  # the framework counts its jobs in the main process's memory
    try:
        samples, labels = scrape(server.port)
    finally:
        lk_metrics.job_ended()
        server.close()
    jobs = value(samples, "lk_agents_active_job_count", nodename=lk_utils.nodename())
    assert jobs == 1
    assert list(files.glob("*.db")), "the child wrote no metrics file"
    ended = {
        "direction": "inbound",
        "status": report.status,
        "ended_by": str(report.ended_by),
        "end_reason": str(report.end_reason),
        "result": str(report.result),
    }
    assert value(samples, "agent_calls_ended_total", **ended) == 1
    assert value(samples, "agent_calls_started_total", direction="inbound") == 1
    assert value(samples, "agent_calls_active", direction="inbound") == 0
    latencies = [t.e2e_latency for t in report.runtime.latency if t.e2e_latency is not None]
    assert value(samples, "agent_answer_latency_seconds_count") == len(latencies) > 0
    assert value(samples, "agent_answer_latency_seconds_sum") == pytest.approx(sum(latencies))
    assert value(samples, "agent_tool_calls_total", outcome="ok") == 1
    document = json.loads((ORDER_STATUS / "call.json").read_text())
    for private in private_values(report, document):
        assert not [v for v in labels if private in v], private


def test_calls_of_a_crashed_process_are_not_counted_as_active(tmp_path: Path) -> None:
    files = tmp_path / "metrics"
    files.mkdir()
    start_a_call = """
        import os, sys
        from agent_runtime.observability.metrics import call_started
        call_started("outbound")
        print("started", flush=True)
        if sys.argv[1:] == ["crash"]:
            os._exit(1)  # a job process killed mid-call: it never lowers the gauge
        sys.stdin.read()
    """
    server = MetricsServer(host="127.0.0.1", port=0, job_files=files, outbox_path=None)
    with _child(start_a_call, files) as live, _child(start_a_call, files, "crash") as crashed:
        try:
            assert live.stdout is not None and live.stdout.readline() == "started\n"
            assert crashed.wait(timeout=60) == 1
            assert len(list(files.glob("gauge_livesum_*.db"))) == 2
            samples, _ = scrape(server.port)
            assert value(samples, "agent_calls_active", direction="outbound") == 1
            assert value(samples, "agent_calls_started_total", direction="outbound") == 2
            assert len(list(files.glob("gauge_livesum_*.db"))) == 1
        finally:
            live.communicate("", timeout=60)
            crashed.communicate(timeout=60)
            server.close()


def test_metrics_are_off_unless_a_port_is_set(tmp_path: Path) -> None:
    assert WorkerSettings.from_env({}).observability.metrics.files_dir is None
    on = WorkerSettings.from_env({"AGENT_METRICS_PORT": "9464"}).observability.metrics
    assert on.enabled and on.files is not None and on.files.name == "agent-runtime-metrics-9464"
    chosen = MetricsSettings.from_env({"AGENT_METRICS_PORT": "9464", "AGENT_METRICS_DIR": "/m"})
    assert chosen.files_dir == "/m"
    with pytest.raises(SettingsError, match="AGENT_METRICS_PORT"):
        WorkerSettings.from_env({"AGENT_METRICS_PORT": "http"})

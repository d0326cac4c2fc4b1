"""Structured logs: each line of a call says which call it is, and never what was said."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from livekit.agents.cli.log import JsonFormatter
from livekit.agents.testing import fake_job_context

from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.run import run_replay
from agent_runtime.worker.job import JobOutcome, finish_call_job, run_call_job
from agent_runtime.worker.settings import WorkerSettings

from .conftest import FIXTURES
from .fakes_livekit import FakeLiveKitServer
from .test_worker import (  # noqa: F401  # livekit_env is a fixture
    CALLER_NUMBER,
    NoLine,
    _recorded_line,
    livekit_env,
)

ORDER_STATUS = FIXTURES / "calls" / "order_status"
PRIVATE = [CALLER_NUMBER, CALLER_NUMBER.lstrip("+"), "where my order is", "all I needed"]
"""The caller's number and what the caller said in the recorded call."""


@pytest.fixture
def json_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every log line, as the worker prints them in production (the framework's JSON)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root, ours = logging.getLogger(), logging.getLogger("agent_runtime")
    levels = root.level, ours.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    ours.setLevel(logging.DEBUG)  # our debug lines carry the ids too

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(levels[0])
    ours.setLevel(levels[1])


def _assert_private_stays_out(lines: list[dict[str, Any]]) -> None:
    info = [json.dumps(line) for line in lines if line["level"] not in ("DEBUG", "TRACE")]
    assert info
    for text in info:
        for private in PRIVATE:
            assert private not in text


@pytest.mark.replay
def test_a_replayed_calls_lines_carry_its_ids_and_nothing_said(
    json_lines: Callable[[], list[dict[str, Any]]], tmp_path: Path
) -> None:
    result = run_replay(ORDER_STATUS, fast=True, output_dir=tmp_path)
    lines = json_lines()
    ours = [line for line in lines if line["name"] == "agent_runtime"]
    tool_lines = [line for line in ours if "http tool check_order_status" in line["message"]]
    assert len(tool_lines) == 1  # logged by the tool, deep inside the session's tasks
    for line in ours:
        assert line["call_id"] == "call_order_status", line["message"]
        assert line["attempt_id"] == result.call.report.id, line["message"]
    _assert_private_stays_out(lines)


@pytest.mark.replay
def test_a_worker_jobs_lines_carry_its_ids_from_config_to_after_call(
    json_lines: Callable[[], list[dict[str, Any]]],
    tmp_path: Path,
    livekit_env: Callable[[str], None],  # noqa: F811
) -> None:
    document = json.loads((ORDER_STATUS / "call.json").read_text())
    fields: dict[str, Any] = {}

    async def job() -> JobOutcome:
        async with _recorded_line(FakeLiveKitServer(), livekit_env) as (integrations, line):
            env = {"AGENT_REPORT_DIR": str(tmp_path), "AGENT_CLIP_CACHE_DIR": str(tmp_path)}
            settings = WorkerSettings.from_env(env).model_copy(
                update={"integrations": integrations}
            )
            with fake_job_context(job_metadata=json.dumps(document)) as ctx:
                outcome = await run_call_job(
                    ctx, settings, connect_line=line.connect, make_providers=line.providers
                )
                fields.update(ctx.log_context_fields)
            return await finish_call_job(outcome, settings)

    outcome = run_virtual(job)
    ids = {"call_id": "call_order_status", "attempt_id": outcome.report.id}
    # the framework stamps these on every line of the job's process
    assert fields == ids
    lines = json_lines()
    ours = [line for line in lines if line["name"] == "agent_runtime"]
    messages = [line["message"] for line in ours]
    assert "call call_order_status: queued" in messages
    assert any(m.startswith("call call_order_status ended:") for m in messages)
    for line in ours:
        assert {name: line.get(name) for name in ids} == ids, line["message"]
    _assert_private_stays_out(lines)


async def test_a_call_that_cannot_run_is_logged_with_its_ids(
    json_lines: Callable[[], list[dict[str, Any]]],
    tmp_path: Path,
    livekit_env: Callable[[str], None],  # noqa: F811
) -> None:
    from agent_runtime.replay.local_server import serve

    livekit = FakeLiveKitServer()
    async with serve(livekit.app) as url:
        livekit_env(url)
        settings = WorkerSettings.from_env({"AGENT_REPORT_DIR": str(tmp_path)})
        with fake_job_context(job_metadata='{"call_id": "call_9"}') as ctx:
            outcome = await run_call_job(
                ctx, settings, connect_line=NoLine().connect, make_providers=_no_providers
            )
    (line,) = [line for line in json_lines() if "not run" in line["message"]]
    assert line["level"] == "WARNING"
    assert (line["call_id"], line["attempt_id"]) == ("call_9", outcome.report.id)


def _no_providers(spec: object) -> Any:
    raise AssertionError("providers were built for a call that cannot run")

"""A stopping worker drains: it takes no new call and lets the one in progress finish.

The real worker runs in a subprocess against ``FakeAgentDispatch``. Its job is held mid-work by
a config endpoint that does not answer yet when SIGTERM arrives; once released, the job goes
on, finds no SFU to connect its room to (there is none on loopback) and writes the report that
says so, and only then does the worker exit.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from livekit.protocol import agent

from agent_runtime.replay.local_server import serve

from .fakes_livekit import ConfigEndpoint, FakeAgentDispatch
from .test_worker_start import livekit, worker_env, worker_process

CALL = {
    "call": {
        "id": "call_drain",
        "direction": "inbound",
        "assistant": {"prompt": "You are a test agent.", "first_sentence": "Hello."},
    }
}


async def test_sigterm_refuses_new_calls_and_lets_the_call_in_progress_finish(
    tmp_path: Path,
) -> None:
    dispatch = FakeAgentDispatch()
    configs = ConfigEndpoint({"call_drain": CALL}, held=True)
    async with livekit(dispatch) as url, serve(configs.app) as config_base:
        env = worker_env(
            tmp_path, LIVEKIT_URL=url, AGENT_CONFIG_URL=f"{config_base}/calls/{{call_id}}"
        )
        async with worker_process(tmp_path, env) as worker:
            async with asyncio.timeout(180):
                assert await worker.poll("/ready", 200) == "ready"
            first = await dispatch.offer_job(json.dumps({"call_id": "call_drain"}))
            assert first.available
            async with asyncio.timeout(60):
                await configs.requested.wait()  # the job is fetching its config: mid-work

            worker.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                await dispatch.wait_for(
                    lambda: (
                        dispatch.last_status is not None
                        and dispatch.last_status.status == agent.WorkerStatus.WS_FULL
                    )
                )
            assert await worker.get("/ready") == (503, "draining")
            second = await dispatch.offer_job(json.dumps({"call_id": "call_late"}))
            assert not second.available
            assert worker.process.returncode is None  # still draining the first call

            configs.release()
            async with asyncio.timeout(180):
                assert await worker.wait() == 0
    assert worker.errors() == []
    assert [call_id for call_id, _ in configs.requests] == ["call_drain"]
    (path,) = (tmp_path / "reports" / "call_drain").glob("*/report.json")
    report = json.loads(path.read_text())
    assert (report["status"], report["ended_by"]) == ("error", "system")
    assert report["end_reason"] == "media_unavailable"
    assert [r.room for r in dispatch.api.requests("DeleteRoom")] == ["call-room"]
    assert agent.JobStatus.JS_RUNNING in dispatch.job_statuses(first.job_id)
    assert not dispatch.job_statuses(second.job_id)


async def test_the_drain_ends_after_agent_drain_timeout_with_the_call_unfinished(
    tmp_path: Path,
) -> None:
    dispatch = FakeAgentDispatch()
    configs = ConfigEndpoint({"call_drain": CALL}, held=True)  # never released
    async with livekit(dispatch) as url, serve(configs.app) as config_base:
        env = worker_env(
            tmp_path,
            LIVEKIT_URL=url,
            AGENT_CONFIG_URL=f"{config_base}/calls/{{call_id}}",
            AGENT_DRAIN_TIMEOUT="2",
        )
        async with worker_process(tmp_path, env) as worker:
            async with asyncio.timeout(180):
                assert await worker.poll("/ready", 200) == "ready"
            assert (await dispatch.offer_job(json.dumps({"call_id": "call_drain"}))).available
            async with asyncio.timeout(60):
                await configs.requested.wait()
            worker.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(120):
                assert await worker.wait() == 0
    assert not (tmp_path / "reports" / "call_drain").exists()  # the call was cut, not finished
    assert "drain timed out" in worker.stderr.read_text()

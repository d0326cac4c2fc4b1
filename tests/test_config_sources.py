"""Loading a job's config from its metadata, inline or fetched from a local config endpoint."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web

from agent_runtime.config.sources import ConfigEndpoint, load_job_metadata
from agent_runtime.errors import ConfigError, ConfigFetchError
from agent_runtime.replay.local_server import serve
from agent_runtime.worker.settings import WorkerSettings

TOKEN = "cfg-token-SECRET"


class ConfigServer:
    """A config endpoint that answers with scripted statuses, then the document."""

    def __init__(self, document: Any, failures: list[int] | None = None, delay: float = 0) -> None:
        self.document = document
        self.failures = list(failures or [])
        self.delay = delay
        self.requests: list[web.Request] = []
        self.app = web.Application()
        self.app.router.add_get("/calls/{call_id}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            return web.Response(status=self.failures.pop(0), text="nope")
        return web.json_response(self.document)


def _endpoint(base: str, **kw: Any) -> ConfigEndpoint:
    defaults: dict[str, Any] = {"token": TOKEN, "timeout": 2.0, "retries": 2, "backoff": 0.01}
    return ConfigEndpoint(url=f"{base}/calls/{{call_id}}", **{**defaults, **kw})


async def test_inline_call_json(full_call: dict[str, Any]) -> None:
    spec = await load_job_metadata(json.dumps(full_call), endpoint=None)
    assert spec.call.id == "call_7f3a"


async def test_empty_metadata_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="is empty"):
        await load_job_metadata("  ", endpoint=None)


async def test_reference_without_endpoint() -> None:
    with pytest.raises(ConfigError, match="AGENT_CONFIG_URL"):
        await load_job_metadata('{"call_id": "c9"}', endpoint=None)


async def test_reference_is_fetched_with_the_bearer_token(full_call: dict[str, Any]) -> None:
    server = ConfigServer(full_call)
    async with serve(server.app) as base:
        spec = await load_job_metadata('{"call_id": "call 7/f3a"}', _endpoint(base))
    assert spec.call.id == "call_7f3a"
    (request,) = server.requests
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.match_info["call_id"] == "call 7/f3a"


async def test_transient_failures_are_retried(full_call: dict[str, Any]) -> None:
    server = ConfigServer(full_call, failures=[503, 429])
    async with serve(server.app) as base:
        spec = await load_job_metadata('{"call_id": "c1"}', _endpoint(base))
    assert spec.call.id == "call_7f3a"
    assert len(server.requests) == 3


async def test_client_errors_are_not_retried(full_call: dict[str, Any]) -> None:
    server = ConfigServer(full_call, failures=[404])
    async with serve(server.app) as base:
        with pytest.raises(ConfigFetchError) as caught:
            await load_job_metadata('{"call_id": "c1"}', _endpoint(base))
    assert "HTTP 404" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert len(server.requests) == 1


async def test_retries_run_out(full_call: dict[str, Any]) -> None:
    server = ConfigServer(full_call, failures=[500, 500, 500, 500])
    async with serve(server.app) as base:
        with pytest.raises(ConfigFetchError, match="HTTP 500"):
            await load_job_metadata('{"call_id": "c1"}', _endpoint(base, retries=2))
    assert len(server.requests) == 3


async def test_timeout(full_call: dict[str, Any]) -> None:
    server = ConfigServer(full_call, delay=1.0)
    async with serve(server.app) as base:
        with pytest.raises(ConfigFetchError, match="did not answer within 0.2 s"):
            await load_job_metadata('{"call_id": "c1"}', _endpoint(base, timeout=0.2, retries=0))


async def test_unreachable_endpoint() -> None:
    endpoint = ConfigEndpoint(url="http://127.0.0.1:9/calls", retries=0, timeout=1)
    with pytest.raises(ConfigFetchError, match="could not be reached"):
        await load_job_metadata('{"call_id": "c1"}', endpoint)


async def test_fetched_invalid_config_names_its_source() -> None:
    server = ConfigServer({"call": {"id": "c1", "direction": "outbound", "assistant": {}}})
    async with serve(server.app) as base:
        with pytest.raises(ConfigError) as caught:
            await load_job_metadata('{"call_id": "c1"}', _endpoint(base))
    assert caught.value.source == "config of call c1"
    assert caught.value.problems[0].path == "$.call.assistant.prompt"


def test_endpoint_from_env() -> None:
    assert WorkerSettings.from_env({}).config_endpoint is None
    endpoint = WorkerSettings.from_env(
        {"AGENT_CONFIG_URL": "https://cfg.example/calls", "AGENT_CONFIG_RETRIES": "5"}
    ).config_endpoint
    assert endpoint is not None
    assert endpoint.url_for("a b") == "https://cfg.example/calls/a%20b"
    assert (endpoint.retries, endpoint.timeout, endpoint.token) == (5, 5.0, None)

"""``agent-runtime start`` as an operator runs it: start-up checks, exit codes, readiness.

The real worker runs in a subprocess against ``FakeAgentDispatch``, the LiveKit server's agent
WebSocket on loopback; every provider URL points at a closed loopback port.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from livekit.protocol import agent

from agent_runtime.errors import SettingsError
from agent_runtime.replay.local_server import serve
from agent_runtime.worker.settings import WorkerSettings
from agent_runtime.worker.startup import EXIT_LIVEKIT, EXIT_SETTINGS, check_startup

from .conftest import ROOT
from .fakes_livekit import API_KEY, API_SECRET, FakeAgentDispatch, RegisterMode

_OURS = (
    *("LIVEKIT_", "AGENT_", "OPENAI_", "CARTESIA_", "ELEVEN_", "OPENROUTER_", "MINISTRAL_"),
    *("GOOGLE_", "STT_", "LLM_", "TTS_"),
)
_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


def free_port() -> int:
    """A loopback port nothing listens on (at the time of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def worker_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a worker that can start: keys set, every URL on loopback."""
    closed = f"http://127.0.0.1:{free_port()}"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_OURS) and name not in _PROXIES
    }
    env.update(
        LIVEKIT_API_KEY=API_KEY,
        LIVEKIT_API_SECRET=API_SECRET,
        OPENAI_API_KEY="sk-test-not-used",
        OPENAI_BASE_URL=f"{closed}/v1",
        CARTESIA_API_KEY="cartesia-test-not-used",
        CARTESIA_BASE_URL=closed,
        ELEVEN_BASE_URL=f"{closed}/v1",
        AGENT_REPORT_DIR=str(tmp_path / "reports"),
        AGENT_CLIP_CACHE_DIR="off",
        AGENT_HEALTH_PORT=str(free_port()),
        AGENT_CPU_LIMIT="100",  # the machine's CPU is shared: never full for its CPU
        NO_PROXY="*",
    )
    env.update(settings)
    return env


@dataclass
class WorkerProcess:
    """A running ``agent-runtime start`` and where its output goes."""

    process: asyncio.subprocess.Process
    stderr: Path
    health: str
    """The health server's base URL."""

    async def wait(self) -> int:
        """The exit code, once the process has ended (bound it with ``asyncio.timeout``)."""
        return await self.process.wait()

    def errors(self) -> list[str]:
        """The ``error:`` lines the command printed."""
        lines = self.stderr.read_text(errors="replace").splitlines()
        return [line for line in lines if line.startswith("error: ")]

    async def get(self, path: str) -> tuple[int, str]:
        """GET a health server path: (status, body)."""
        async with aiohttp.ClientSession() as session, session.get(self.health + path) as reply:
            return reply.status, await reply.text()

    async def poll(self, path: str, status: int) -> str:
        """GET ``path`` until it answers ``status``; its body (bound it with
        ``asyncio.timeout``)."""
        while True:
            try:
                code, body = await self.get(path)
                if code == status:
                    return body
            except aiohttp.ClientConnectionError:
                pass  # not listening yet
            await asyncio.sleep(0.2)


@asynccontextmanager
async def worker_process(
    tmp_path: Path, env: Mapping[str, str], *args: str
) -> AsyncIterator[WorkerProcess]:
    """``agent-runtime start [args]`` in a subprocess; killed on the way out if still running."""
    stderr = tmp_path / "worker.stderr"
    with stderr.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agent_runtime.cli",
            "start",
            *args,
            cwd=ROOT,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    health = f"http://127.0.0.1:{env['AGENT_HEALTH_PORT']}"
    try:
        yield WorkerProcess(process, stderr, health)
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


async def run_worker(tmp_path: Path, env: Mapping[str, str], *args: str) -> WorkerProcess:
    """Run ``agent-runtime start`` to its end (killed after 5 minutes)."""
    async with worker_process(tmp_path, env, *args) as worker, asyncio.timeout(300):
        await worker.wait()
    return worker


@asynccontextmanager
async def livekit(dispatch: FakeAgentDispatch) -> AsyncIterator[str]:
    """Serve ``dispatch`` on loopback; yields its ``ws://`` URL."""
    async with serve(dispatch.app) as base:
        dispatch.url = base.replace("http://", "ws://")
        yield dispatch.url


# -- start-up checks ----------------------------------------------------------------------------


async def test_start_without_the_livekit_server_exits_2_naming_it(tmp_path: Path) -> None:
    env = worker_env(tmp_path)
    del env["LIVEKIT_API_SECRET"]
    worker = await run_worker(tmp_path, env)
    assert worker.process.returncode == EXIT_SETTINGS
    assert worker.errors() == [
        "error: LIVEKIT_URL is not set; the worker needs the LiveKit server",
        "error: LIVEKIT_API_SECRET is not set; the worker needs the LiveKit server",
    ]


async def test_start_with_a_malformed_url_exits_2(tmp_path: Path) -> None:
    worker = await run_worker(tmp_path, worker_env(tmp_path), "--url", "localhost:7880")
    assert worker.process.returncode == EXIT_SETTINGS
    assert worker.errors() == [
        "error: LIVEKIT_URL must be a ws://, wss://, http:// or https:// URL with a host"
    ]


async def test_start_without_provider_keys_or_a_writable_report_dir_exits_2(
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_text("")
    env = worker_env(
        tmp_path,
        LIVEKIT_URL="ws://127.0.0.1:7880",
        AGENT_REPORT_DIR=str(tmp_path / "a-file" / "reports"),
        AGENT_OUTBOX_PATH=str(tmp_path / "outbox.sqlite3"),
    )
    del env["OPENAI_API_KEY"], env["CARTESIA_API_KEY"]
    del env["OPENAI_BASE_URL"]  # OpenAI's own servers: a server of one's own may need no key
    worker = await run_worker(tmp_path, env)
    assert worker.process.returncode == EXIT_SETTINGS
    errors = worker.errors()
    assert errors[:2] == [
        "error: OPENAI_API_KEY is not set; it is needed for STT_PROVIDER=openai",
        "error: CARTESIA_API_KEY or ELEVEN_API_KEY must be set; every call needs a voice",
    ]
    assert len(errors) == 3 and errors[2].startswith("error: AGENT_REPORT_DIR: ")
    assert "not writable" in errors[2]
    assert "Traceback" not in worker.stderr.read_text()


def test_the_checks_follow_the_providers_the_settings_choose(tmp_path: Path) -> None:
    env = {
        "LIVEKIT_URL": "wss://project.livekit.cloud",
        "LIVEKIT_API_KEY": "key",
        "LIVEKIT_API_SECRET": "secret",
        "AGENT_REPORT_DIR": str(tmp_path),
        "STT_PROVIDER": "elevenlabs",
        "ELEVEN_API_KEY": "el",
        "LLM_FALLBACK_MODEL": "gpt-4.1-mini",
        "TTS_FALLBACK_VOICE": "cartesia:voice-1",
    }
    check = check_startup(WorkerSettings.from_env(env), env)
    assert check.problems == [
        "LLM_FALLBACK_API_KEY (or OPENAI_API_KEY) is not set; it is needed for LLM_FALLBACK_MODEL",
        "CARTESIA_API_KEY is not set; it is needed for TTS_FALLBACK_VOICE",
    ]
    assert check.warnings == [
        "CARTESIA_API_KEY is not set; assistants without a voice (Cartesia's) cannot speak",
        "OPENAI_API_KEY is not set; assistants without an llm_model (gpt-4.1) cannot run",
    ]
    # the command line's options count as the environment's
    bare = {name: value for name, value in env.items() if not name.startswith("LIVEKIT_")}
    bare.update(CARTESIA_API_KEY="ca", OPENAI_API_KEY="sk")
    forwarded = ["--url", "ws://10.0.0.2:7880", "--api-key=key", "--api-secret", "secret"]
    assert check_startup(WorkerSettings.from_env(bare), bare, forwarded).problems == []
    # a local OpenAI-compatible server for the LLM and STT needs no key
    local = {**bare, "STT_PROVIDER": "openai", "OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}
    del local["OPENAI_API_KEY"]
    local_check = check_startup(WorkerSettings.from_env(local), local, forwarded)
    assert local_check.problems == [] and not any("OPENAI" in w for w in local_check.warnings)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AGENT_DRAIN_TIMEOUT", "0", "must be greater than 0"),
        ("AGENT_REGISTER_TIMEOUT", "soon", "must be a valid number"),
        ("AGENT_HEALTH_PORT", "70000", "must be less than or equal to 65535"),
    ],
)
def test_the_process_settings_are_checked(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"{name}: {message}"):
        WorkerSettings.from_env({name: value})


# -- LiveKit unreachable or refusing ------------------------------------------------------------


async def test_an_unreachable_livekit_server_ends_with_exit_3(tmp_path: Path) -> None:
    env = worker_env(
        tmp_path, LIVEKIT_URL=f"ws://127.0.0.1:{free_port()}", AGENT_REGISTER_TIMEOUT="3"
    )
    worker = await run_worker(tmp_path, env)
    assert worker.process.returncode == EXIT_LIVEKIT
    (error,) = worker.errors()
    assert error.startswith("error: not registered with LiveKit at ws://127.0.0.1:")
    assert error.endswith("within 3 s (AGENT_REGISTER_TIMEOUT)")


@pytest.mark.parametrize("mode", ["refuse", "never"])
async def test_a_server_that_refuses_or_ignores_the_registration_ends_with_exit_3(
    tmp_path: Path, mode: RegisterMode
) -> None:
    dispatch = FakeAgentDispatch(register=mode)
    async with livekit(dispatch) as url:
        env = worker_env(tmp_path, LIVEKIT_URL=url, AGENT_REGISTER_TIMEOUT="4")
        worker = await run_worker(tmp_path, env)
    assert worker.process.returncode == EXIT_LIVEKIT
    assert dispatch.registrations[0].agent_name == "agent-runtime"  # it did ask
    refusals = len(dispatch.registrations) if mode == "refuse" else 0
    assert dispatch.rejected == ["registration refused"] * refusals
    assert worker.errors() == [
        f"error: not registered with LiveKit at {url} within 4 s (AGENT_REGISTER_TIMEOUT)"
    ]


async def test_bad_credentials_are_refused_and_end_with_exit_3(tmp_path: Path) -> None:
    dispatch = FakeAgentDispatch()
    async with livekit(dispatch) as url:
        env = worker_env(
            tmp_path, LIVEKIT_URL=url, LIVEKIT_API_SECRET="wrong", AGENT_REGISTER_TIMEOUT="3"
        )
        worker = await run_worker(tmp_path, env)
    assert worker.process.returncode == EXIT_LIVEKIT
    assert dispatch.rejected and dispatch.rejected[0] == "bad token: InvalidSignatureError"
    assert not dispatch.registrations


# -- readiness ----------------------------------------------------------------------------------


async def test_ready_only_once_registered_then_stops_cleanly(tmp_path: Path) -> None:
    dispatch = FakeAgentDispatch(register="held")
    async with livekit(dispatch) as url:
        env = worker_env(tmp_path)  # the URL comes from the command line
        async with worker_process(tmp_path, env, "--url", url) as worker:
            async with asyncio.timeout(120):
                await dispatch.wait_for(lambda: dispatch.registrations)
            assert await worker.get("/") == (200, "OK")  # alive
            assert await worker.get("/ready") == (503, "not registered with LiveKit")
            dispatch.release_registration()
            async with asyncio.timeout(120):
                assert await worker.poll("/ready", 200) == "ready"
            async with asyncio.timeout(30):
                await dispatch.wait_for(lambda: dispatch.statuses)
            assert dispatch.statuses[-1].status == agent.WorkerStatus.WS_AVAILABLE
            worker.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(120):
                assert await worker.wait() == 0
    assert worker.errors() == []
    assert dispatch.registrations[0].agent_name == "agent-runtime"


async def test_a_lost_connection_makes_the_worker_unready_until_it_registers_again(
    tmp_path: Path,
) -> None:
    dispatch = FakeAgentDispatch()
    async with (
        livekit(dispatch) as url,
        worker_process(tmp_path, worker_env(tmp_path, LIVEKIT_URL=url)) as worker,
    ):
        async with asyncio.timeout(120):
            assert await worker.poll("/ready", 200) == "ready"
        dispatch.register_mode = "held"
        dispatch.hold_registration()
        await dispatch.disconnect()
        async with asyncio.timeout(60):
            await dispatch.wait_for(lambda: len(dispatch.registrations) == 2)
        assert await worker.get("/ready") == (503, "not registered with LiveKit")
        assert await worker.get("/") == (200, "OK")
        dispatch.release_registration()
        async with asyncio.timeout(60):
            assert await worker.poll("/ready", 200) == "ready"
        worker.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(120):
            assert await worker.wait() == 0
    assert dispatch.connections == 2

"""The framework's agent server, made to say whether it is ready and why it stopped.

``RuntimeAgentServer`` is livekit-agents' ``AgentServer`` (1.8.9) with:

- **readiness**: ``GET /ready`` on the health server (next to the framework's liveness ``/``)
  answers 200 only while the worker is registered with LiveKit, at least one job process has
  finished its warm-up (the models are loaded; ``dev`` keeps no warm process and skips this),
  and the worker is not draining; else 503 and the reason. The route is added when the
  framework builds its health server, before it starts (an aiohttp application takes no route
  once started).
- **a registration deadline**: when the worker is not registered within ``register_timeout``
  seconds of starting to connect, or of losing its connection, it gives up. The framework
  alone retries 16 times (about 2 minutes), and waits forever for a server that accepts the
  connection but never answers the registration.
- **its failure kept**: the framework's CLI logs a failed run and exits 0; ``failure`` says
  what went wrong, so that ``agent-runtime start`` can exit non-zero.

Calls in progress when the connection fails still get the drain: the framework's CLI drains the
server once its run ends, whatever ended it.

No public hook gives these, so the subclass leans on internals of livekit-agents 1.8.9
(``_http_server``, ``_proc_pool``, ``_run_ws``, ``_close_future``, ``_connection_failed``,
``_devmode``); ``tests/test_worker_start.py`` runs the real worker against a LiveKit stand-in
and fails if they change.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from livekit.agents import AgentServer, utils
from livekit.agents.utils import http_server

from .startup import EXIT_FAILED, EXIT_LIVEKIT

READY_PATH = "/ready"


@dataclass(frozen=True)
class WorkerFailure:
    """Why the worker stopped on its own, and the exit code that says so."""

    message: str
    exit_code: int


class RegistrationTimeout(Exception):
    """The worker stayed unregistered longer than its deadline."""


class RuntimeAgentServer(AgentServer):
    """``AgentServer`` with readiness, a registration deadline and its failure kept."""

    _health_server: http_server.HttpServer | None = None

    def __init__(self, *, register_timeout: float, **options: Any) -> None:
        super().__init__(**options)
        self.register_timeout = register_timeout
        self.failure: WorkerFailure | None = None
        """Set when the run ended on an error (None after a normal stop)."""
        self._registered = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._warm_processes = 0
        self.on("worker_registered", self._on_registered)

    @property
    def _http_server(self) -> http_server.HttpServer | None:
        return self._health_server

    @_http_server.setter
    def _http_server(self, server: http_server.HttpServer | None) -> None:
        # the framework builds its health server in run(), after the process pool
        if server is not None and server is not self._health_server:
            server.app.router.add_get(READY_PATH, self._ready)
            self._proc_pool.on("process_ready", self._on_process_ready)
        self._health_server = server

    def not_ready_reason(self) -> str | None:
        """Why the worker should not be sent calls now; None when it is ready."""
        if self.draining:
            return "draining"
        if not self._registered.is_set():
            return "not registered with LiveKit"
        if self._warm_processes == 0 and not self._devmode:  # dev keeps no warm process
            return "no job process has loaded its models yet"
        return None

    async def run(self, *, devmode: bool = False, unregistered: bool = False) -> None:
        """Run the server (see ``AgentServer.run``); a failure is kept in ``failure``."""
        deadline = None
        if not unregistered:
            started = asyncio.Event()
            self.once("worker_started", started.set)
            watch = self._watch_registration(started)
            deadline = asyncio.create_task(watch, name="register_deadline")
        try:
            await super().run(devmode=devmode, unregistered=unregistered)
        except RegistrationTimeout as err:
            self.failure = WorkerFailure(str(err), EXIT_LIVEKIT)
        except Exception as err:
            self.failure = _failure(err, connection_failed=self._connection_failed)
        finally:
            if deadline is not None:
                await utils.aio.cancel_and_wait(deadline)

    async def _run_ws(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            await super()._run_ws(ws)
        finally:
            self._registered.clear()
            self._disconnected.set()

    def _on_registered(self, *_: object) -> None:
        self._disconnected.clear()
        self._registered.set()

    def _on_process_ready(self, *_: object) -> None:
        self._warm_processes += 1

    async def _watch_registration(self, started: asyncio.Event) -> None:
        """End the run when the worker stays unregistered past ``register_timeout``."""
        await started.wait()  # the process pool is warm: connecting starts now
        while True:
            try:
                await asyncio.wait_for(self._registered.wait(), self.register_timeout)
            except TimeoutError:
                if self.draining:  # stopping anyway: a drain is no failure
                    return
                break
            await self._disconnected.wait()
        message = (
            f"not registered with LiveKit at {self._ws_url} within {self.register_timeout:g} s"
            " (AGENT_REGISTER_TIMEOUT)"
        )
        if self._close_future is not None and not self._close_future.done():
            self._close_future.set_exception(RegistrationTimeout(message))

    async def _ready(self, _: web.Request) -> web.Response:
        reason = self.not_ready_reason()
        if reason is not None:
            return web.Response(status=503, text=reason)
        return web.Response(text="ready")


def _failure(error: Exception, *, connection_failed: bool) -> WorkerFailure:
    if connection_failed:
        return WorkerFailure(f"could not register with LiveKit: {error}", EXIT_LIVEKIT)
    return WorkerFailure(f"the worker failed: {type(error).__name__}: {error}", EXIT_FAILED)

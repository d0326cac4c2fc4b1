"""A virtual clock, so a recorded call replays in a fraction of its length.

``VirtualTimeLoop`` is an asyncio loop whose clock jumps to the next timer whenever nothing is
ready to run; CPU work (the VAD, the end-of-turn model, the offline TTS) runs inline on the loop
and so takes no virtual time. The framework also reads wall-clock time (``time.time()``) to
time turns; ``install_clock_hook`` makes those reads follow the virtual clock too, but only for
code running on a virtual loop: every other caller keeps the real clock. It must be installed
before livekit is imported, so that the timestamps its models default to are covered as well.
``run_virtual`` runs one coroutine on a virtual loop and reports the tasks it left running.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import selectors
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")

IO_SETTLE_POLLS = 3
"""After a socket was ready, this many idle polls first wait for real I/O before time jumps."""
IO_SETTLE_SECONDS = 0.01
"""How long each of those polls waits: loopback delivery is late on a busy machine."""

_real_time = time.time
_real_perf_counter = time.perf_counter
_real_monotonic = time.monotonic
_installed = False


class InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs submitted work at once, on the calling thread (it never starts a thread).

    A ``ThreadPoolExecutor`` only because asyncio's default executor must be one.
    """

    def submit(
        self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[_T]:
        """Run ``fn`` now and return its completed future."""
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:
            future.set_exception(err)
        return future


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.origin = _real_time()
        self._last_read = 0.0

    def read(self) -> float:
        """The virtual time, strictly increasing across reads (like a real clock)."""
        self._last_read = max(self.now, self._last_read + 1e-6)
        return self._last_read


class _JumpingSelector(selectors.BaseSelector):
    """Polls the real selector; where the loop would sleep, moves the clock instead."""

    def __init__(self, clock: _Clock) -> None:
        self._clock = clock
        self._real = selectors.DefaultSelector()
        self._quiet_polls = 0
        """Polls in a row that found no socket ready: after real I/O, the next ones wait a
        little for the answer that is surely on its way over loopback."""

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def expect_io(self) -> None:
        """Real I/O is on its way (a connection was opened): wait for it before jumping."""
        self._quiet_polls = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if not ready and timeout != 0 and self._quiet_polls < IO_SETTLE_POLLS:
            ready = self._real.select(IO_SETTLE_SECONDS)
        self._quiet_polls = 0 if ready else self._quiet_polls + 1
        if ready or timeout == 0:
            return ready
        if timeout is None:
            return self._real.select(None)
        self._clock.now += float(timeout)
        return []

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on a virtual clock that jumps over idle time."""

    def __init__(self) -> None:
        self._clock = _Clock()
        self._jumping = _JumpingSelector(self._clock)
        super().__init__(selector=self._jumping)
        self._clock_resolution = 1e-9
        self.set_default_executor(InlineExecutor())

    async def create_connection(self, *args: Any, **kwargs: Any) -> Any:
        """Open a connection; its first answer (a server's greeting) is waited for, for real."""
        self._jumping.expect_io()
        try:
            return await super().create_connection(*args, **kwargs)
        finally:
            self._jumping.expect_io()

    def time(self) -> float:
        """The virtual time, in seconds."""
        return self._clock.now

    def wall_time(self) -> float:
        """The virtual time as a wall-clock timestamp."""
        return self._clock.origin + self._clock.read()


def _virtual_loop() -> VirtualTimeLoop | None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop if isinstance(loop, VirtualTimeLoop) else None


def _time() -> float:
    loop = _virtual_loop()
    return loop.wall_time() if loop is not None else _real_time()


def _perf_counter() -> float:
    loop = _virtual_loop()
    return loop.time() if loop is not None else _real_perf_counter()


def _monotonic() -> float:
    loop = _virtual_loop()
    return loop.time() if loop is not None else _real_monotonic()


def install_clock_hook() -> None:
    """Let ``time.time``, ``perf_counter`` and ``monotonic`` follow a running virtual loop."""
    global _installed
    if _installed:
        return
    time.time = _time
    time.perf_counter = _perf_counter
    time.monotonic = _monotonic
    _installed = True


class LeftoverTasks(ResourceWarning):
    """Tasks were still running when the coroutine given to ``run_virtual`` returned."""


def run_virtual(main: Callable[[], Any]) -> Any:
    """Run the coroutine made by ``main()`` on a fresh virtual-time loop, like ``asyncio.run``.

    Tasks the coroutine left running are a leak of the code under test: they are cancelled,
    and reported as a ``LeftoverTasks`` warning naming them (an error in the test suite).
    """
    install_clock_hook()
    loop = VirtualTimeLoop()
    leftover: list[str] = []
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main())
    finally:
        try:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            leftover = sorted(task.get_name() for task in pending)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
        if leftover:
            warnings.warn(
                LeftoverTasks(f"tasks still running after the virtual run: {', '.join(leftover)}"),
                stacklevel=2,
            )

"""Tasks with an owner: each one started through a ``TaskSet`` is awaited or cancelled by it.

A task that fails is logged with its name (and passed to ``on_failure``), never dropped in
silence; ``aclose`` cancels what still runs and waits for it, so nothing outlives its owner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .log import logger

_T = TypeVar("_T")


class TaskSet:
    """The tasks of one owner (a call, a clip renderer...)."""

    def __init__(self, on_failure: Callable[[str, BaseException], None] | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_failure = on_failure
        self._closed = False

    def spawn(self, work: Coroutine[Any, Any, _T], *, name: str) -> asyncio.Task[_T]:
        """Start ``work`` as a task of this set (cancelled at once once the set is closed)."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        if self._closed:
            logger.debug("task %s started after its owner closed: cancelled", name)
            task.cancel()
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return
        logger.error("task %s failed", task.get_name(), exc_info=error)
        if self._on_failure is not None:
            self._on_failure(task.get_name(), error)

    async def join(self) -> None:
        """Wait for the tasks still running, without cancelling them."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel the tasks still running and wait for them (idempotent)."""
        self._closed = True
        while self._tasks:
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

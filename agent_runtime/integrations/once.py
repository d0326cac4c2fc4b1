"""At-most-once side effects (a text message, a booking) within one call.

An interrupted turn, a retried LLM step or two identical tool calls in one step must not send a
message or book a slot twice. ``AtMostOnce`` runs an action once per key: a second request with
the same key waits for the first and gets its result. The action runs in its own task, shielded
from the caller's cancellation, so a request already on the wire finishes and its outcome is
known. Only a failure that surely had no effect (``ToolError.maybe_done`` false) frees the key
for another try.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from ..errors import ToolError

_T = TypeVar("_T")


class AtMostOnce(Generic[_T]):
    """Runs each keyed action at most once; owns the tasks it starts."""

    def __init__(self) -> None:
        self._runs: dict[str, asyncio.Task[_T]] = {}

    def started(self, key: str) -> bool:
        """True when an action for ``key`` ran or runs, and a new request would repeat it."""
        return key in self._runs

    async def run(self, key: str, action: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
        """The result of the action for ``key``, run now or earlier in the call.

        Raises the action's exception (the first run's, for a repeated request).
        """
        task = self._runs.get(key)
        if task is None:
            task = asyncio.create_task(action())
            self._runs[key] = task
            task.add_done_callback(lambda done: self._settle(key, done))
        return await asyncio.shield(task)

    def _settle(self, key: str, task: asyncio.Task[_T]) -> None:
        """Free ``key`` after a failure that surely had no effect; keep it otherwise."""
        error = None if task.cancelled() else task.exception()
        if isinstance(error, ToolError) and not error.maybe_done:
            self._runs.pop(key, None)

    async def aclose(self) -> None:
        """Wait for the actions still running (each is bounded by its own time limit)."""
        running = [task for task in self._runs.values() if not task.done()]
        await asyncio.gather(*running, return_exceptions=True)

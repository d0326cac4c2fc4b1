"""The worker's delivery loop: the after-call outbox, delivered for as long as the worker runs.

Each job tries its own deliveries once; what a receiver did not take (down, slow, 429) waits in
the outbox for this loop, which runs in a thread of the worker's main process with an event
loop of its own. Every worker sharing the report directory delivers from the same outbox, and a
worker that starts again resumes where the last one stopped.
"""

from __future__ import annotations

import asyncio
import threading

from ..log import logger
from ..post_call.delivery import Deliverer
from ..post_call.outbox import Outbox
from ..post_call.pipeline import senders
from .settings import WorkerSettings

POLL_SECONDS = 10.0


class DeliveryLoop:
    """A thread that delivers the outbox until ``stop``."""

    def __init__(self, settings: WorkerSettings, *, poll: float = POLL_SECONDS) -> None:
        self._settings = settings
        self._poll = poll
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="after-call-deliveries", daemon=True)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start delivering."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop delivering (a delivery cut short is tried again by the next loop)."""
        if not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._cancel)
        self._thread.join(timeout)

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._task = self._loop.create_task(self._deliver())
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    async def _deliver(self) -> None:
        settings = self._settings
        outbox = Outbox(settings.outbox_path)
        try:
            deliverer = Deliverer(outbox, senders(settings.after_call, settings.integrations))
            logger.info("delivering after-call results from %s", settings.outbox_path)
            await deliverer.run(poll=self._poll)
        finally:
            outbox.close()

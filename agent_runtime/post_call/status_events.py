"""Each status change of an attempt as its own webhook event (``WEBHOOK_STATUS_EVENTS``).

Off by default. When on, and the assistant has a ``webhook_url``, every change (queued,
ringing, ongoing, completed or error) is put in the outbox as a ``call.status`` event, signed
like the final one, with an id of its own per status, and tried at once, in order; what the
receiver does not take is delivered by the worker's delivery loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from ..integrations.egress import EgressPolicy
from ..tasks import TaskSet
from .delivery import Deliverer
from .outbox import Outbox
from .webhook import WebhookSettings, send_webhook, webhook_payload

CLOSE_WITHIN = 5.0
"""Seconds the call's end waits for its last status event's first try."""


class StatusEvents:
    """Publishes the status changes of one attempt."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        url: str,
        call_id: str,
        attempt_id: str,
        settings: WebhookSettings,
        policy: EgressPolicy,
    ) -> None:
        self._outbox = outbox
        self._url = url
        self._call_id = call_id
        self._attempt_id = attempt_id
        self._tasks = TaskSet()
        self._last: asyncio.Task[None] | None = None
        """The event before, which each event waits for: they are delivered in order."""

        async def webhook(payload: dict[str, object]) -> str:
            return await send_webhook(dict(payload), settings=settings, policy=policy)

        self._deliverer = Deliverer(outbox, {"webhook": webhook})

    def publish(self, status: str) -> None:
        """Queue the event of ``status`` and try it (the runner's ``on_status`` hook)."""
        event = {
            "type": "call.status",
            "call": {"id": self._call_id},
            "call_attempt": {"id": self._attempt_id, "status": status},
            "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        event_id = f"msg_{self._attempt_id}_{status}"
        payload = webhook_payload(self._url, event_id, event)
        key = f"status:{self._attempt_id}:{status}"
        self._last = self._tasks.spawn(self._send(key, payload, after=self._last), name=status)

    async def _send(
        self, key: str, payload: dict[str, object], *, after: asyncio.Task[None] | None
    ) -> None:
        if after is not None:
            await asyncio.wait([after])
        await asyncio.to_thread(self._outbox.add, key, "webhook", dict(payload))
        await self._deliverer.deliver_due(keys=[key])

    async def aclose(self) -> None:
        """Give the last events a short while, then leave them to the delivery loop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tasks.join(), CLOSE_WITHIN)
        await self._tasks.aclose()

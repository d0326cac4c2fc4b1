"""Delivering what the outbox holds: each due delivery to its sender, retried on a schedule.

A sender takes a delivery's payload and returns a short detail (an HTTP status, a message id),
or raises ``DeliveryError``: retryable ones are tried again with exponential backoff and
jitter (``Retry-After`` honoured), up to ``RetryPolicy.give_up_after``; the others are given up
at once with their reason. Nothing a sender raises stops the others.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import DeliveryError
from ..log import logger
from .outbox import Delivery, Outbox

Sender = Callable[[dict[str, Any]], Awaitable[str]]
"""Delivers one payload; returns a short detail, raises ``DeliveryError``."""


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed delivery is tried again."""

    first: float = 30.0
    """Seconds before the second try; each later wait doubles."""
    longest: float = 3600.0
    """The longest wait between two tries."""
    give_up_after: float = 24 * 3600.0
    """Seconds after it was added that a delivery still failing is given up."""
    jitter: float = 0.2
    """Each wait is moved by up to this share, so retries of many calls spread out."""

    def next_try(
        self, delivery: Delivery, *, now: float, retry_after: float | None, rng: random.Random
    ) -> float | None:
        """When to try ``delivery`` again after a retryable failure; None: give up."""
        wait = min(self.first * 2 ** max(delivery.attempts - 1, 0), self.longest)
        wait *= 1 + rng.uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            wait = max(wait, retry_after)
        at = now + wait
        return at if at - delivery.created_at <= self.give_up_after else None


class Deliverer:
    """Sends the outbox's due deliveries through the senders of their kinds."""

    def __init__(
        self,
        outbox: Outbox,
        senders: Mapping[str, Sender],
        *,
        policy: RetryPolicy | None = None,
        lease: float = 120.0,
        rng: random.Random | None = None,
    ) -> None:
        """``lease``: how long a claimed delivery is ours (longer than any one try)."""
        self._outbox = outbox
        self._senders = senders
        self._policy = policy or RetryPolicy()
        self._lease = lease
        self._rng = rng or random.Random()

    async def deliver_due(self, *, keys: Collection[str] | None = None) -> int:
        """Try every delivery due now (``keys``: only these), oldest first; how many were tried."""
        tried = 0
        while True:
            batch = await asyncio.to_thread(
                self._outbox.claim, now=time.time(), lease=self._lease, keys=keys
            )
            if not batch:
                return tried
            for delivery in batch:
                await self._try(delivery)
                tried += 1

    async def _try(self, delivery: Delivery) -> None:
        sender = self._senders.get(delivery.kind)
        if sender is None:
            await asyncio.to_thread(
                self._outbox.give_up, delivery.key, f"no {delivery.kind} sender is configured"
            )
            return
        try:
            detail = await sender(delivery.payload)
        except DeliveryError as err:
            await self._failed(delivery, err)
            return
        except Exception as err:  # a sender's bug must not stop the other deliveries
            logger.exception("delivery %s failed", delivery.key)
            await self._failed(delivery, DeliveryError(type(err).__name__, retryable=True))
            return
        await asyncio.to_thread(self._outbox.done, delivery.key, detail)
        logger.info("delivered %s (%s)", delivery.key, detail)

    async def _failed(self, delivery: Delivery, err: DeliveryError) -> None:
        reason = str(err)
        retry_at = None
        if err.retryable:
            retry_at = self._policy.next_try(
                delivery, now=time.time(), retry_after=err.retry_after, rng=self._rng
            )
        if retry_at is None:
            await asyncio.to_thread(self._outbox.give_up, delivery.key, reason)
            logger.warning("delivery %s given up: %s", delivery.key, reason)
            return
        await asyncio.to_thread(self._outbox.later, delivery.key, at=retry_at, reason=reason)
        logger.info("delivery %s failed (%s), tried again later", delivery.key, reason)

    async def run(self, *, poll: float = 10.0) -> None:
        """Deliver what becomes due, for ever (until cancelled)."""
        while True:
            await self.deliver_due()
            await asyncio.sleep(poll)

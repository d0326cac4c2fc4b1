"""The reports of calls whose process died are delivered like any other.

The worker, when it starts, writes the report of each call its previous run lost
(``report.journal.recover``), then queues the call's webhook (``webhook_url``) in the outbox,
where the delivery loop signs and sends it: ``call.ended`` with ``end_reason`` process_lost.
"""

from __future__ import annotations

from ..report.journal import LostCall
from .outbox import Outbox
from .pipeline import ended_event
from .webhook import webhook_payload


def queue_lost_calls(lost: list[LostCall], outbox: Outbox) -> list[str]:
    """Queue the webhook of every lost call that has one; the outbox keys."""
    keys: list[str] = []
    for call in lost:
        url = call.call.webhook_url
        if not url:
            continue
        report = call.report
        payload = webhook_payload(url, f"msg_{report.id}", ended_event(call.call, report))
        key = f"webhook:{report.id}"
        outbox.add(key, "webhook", payload)
        keys.append(key)
    return keys

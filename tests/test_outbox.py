"""The durable outbox and its delivery: retried on a schedule, never sent twice, never lost.

The receivers are local HTTP servers; webhooks are checked with the ``standardwebhooks``
library as a receiver would check them. Time runs on the virtual clock, so hours of retries
take none.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from standardwebhooks import Webhook

from agent_runtime.errors import DeliveryError
from agent_runtime.integrations.egress import EgressPolicy
from agent_runtime.post_call.delivery import Deliverer, RetryPolicy
from agent_runtime.post_call.outbox import Outbox
from agent_runtime.post_call.status_events import StatusEvents
from agent_runtime.post_call.webhook import WebhookSettings, send_webhook, webhook_payload
from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.local_server import serve
from agent_runtime.worker.deliveries import DeliveryLoop
from agent_runtime.worker.settings import WorkerSettings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LOCAL = EgressPolicy(allow=frozenset({"127.0.0.1"}))
QUICK = RetryPolicy(first=30.0, longest=600.0, give_up_after=6 * 3600.0, jitter=0.0)


class Receiver:
    """A webhook receiver: answers with the statuses it is given, in turn, then 200."""

    def __init__(self, statuses: list[int] | None = None, *, delay: float = 0.0) -> None:
        self.statuses = list(statuses or [])
        self.delay = delay
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.verified: list[Any] = []
        self.app = web.Application()
        self.app.router.add_post("/hook", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        self.received.append((headers, body))
        await asyncio.sleep(self.delay)
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.verified.append(Webhook(SECRET).verify(body, headers))
        extra = {"Retry-After": "900"} if status == 429 else {}
        return web.json_response({"status": status}, status=status, headers=extra)


def _webhook_sender(settings: WebhookSettings) -> Callable[[dict[str, Any]], Any]:
    async def send(payload: dict[str, Any]) -> str:
        return await send_webhook(payload, settings=settings, policy=LOCAL)

    return send


def _settings(**env: str) -> WebhookSettings:
    return WebhookSettings.from_env({"WEBHOOK_SIGNING_SECRET": SECRET, **env})


async def _deliver_until_settled(
    outbox: Outbox, deliverer: Deliverer, key: str, *, within: float = 7 * 3600.0
) -> None:
    """Deliver what is due, then sleep a minute, until ``key`` is done or given up."""
    deadline = time.time() + within
    while time.time() < deadline:
        await deliverer.deliver_due()
        delivery = outbox.get(key)
        assert delivery is not None
        if delivery.state in ("done", "failed"):
            return
        await asyncio.sleep(60)


def test_adding_a_delivery_twice_adds_it_once(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        assert outbox.add("webhook:att_1", "webhook", {"n": 1})
        assert not outbox.add("webhook:att_1", "webhook", {"n": 2})
        delivery = outbox.get("webhook:att_1")
        assert delivery is not None and delivery.payload == {"n": 1}
        assert outbox.waiting() == 1
    finally:
        outbox.close()


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_ends(tmp_path: Path) -> None:
    first = Outbox(tmp_path / "outbox.sqlite3")
    second = Outbox(tmp_path / "outbox.sqlite3")  # another process, the same file
    try:
        first.add("upload:att_1", "upload", {}, now=100.0)
        assert [d.key for d in first.claim(now=100.0, lease=120.0)] == ["upload:att_1"]
        assert second.claim(now=150.0, lease=120.0) == []
        retried = second.claim(now=221.0, lease=120.0)  # the first died mid-try
        assert [d.attempts for d in retried] == [2]
    finally:
        first.close()
        second.close()


def test_an_at_most_once_delivery_cut_mid_try_is_never_sent_again(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        outbox.add("sms:att_1", "sms", {"to": "+1"}, at_most_once=True, now=100.0)
        assert len(outbox.claim(now=100.0, lease=60.0)) == 1  # then the process is killed
        assert outbox.claim(now=500.0, lease=60.0) == []
        delivery = outbox.get("sms:att_1")
        assert delivery is not None and delivery.state == "failed"
        assert "may have been sent" in (delivery.detail or "")
    finally:
        outbox.close()


def _run(main: Callable[[], Any]) -> Any:
    return run_virtual(main)


def test_a_receiver_down_for_a_while_gets_the_webhook_once(tmp_path: Path) -> None:
    receiver = Receiver([503, 502, 500])

    async def main() -> None:
        outbox = Outbox(tmp_path / "outbox.sqlite3")
        try:
            async with serve(receiver.app) as base:
                payload = webhook_payload(f"{base}/hook", "msg_att_1", {"type": "call.ended"})
                outbox.add("webhook:att_1", "webhook", payload)
                deliverer = Deliverer(
                    outbox, {"webhook": _webhook_sender(_settings())}, policy=QUICK
                )
                await _deliver_until_settled(outbox, deliverer, "webhook:att_1")
            delivery = outbox.get("webhook:att_1")
            assert delivery is not None
            assert (delivery.state, delivery.attempts, delivery.detail) == ("done", 4, "HTTP 200")
        finally:
            outbox.close()

    _run(main)
    assert len(receiver.received) == 4 and len(receiver.verified) == 1
    ids = {headers["webhook-id"] for headers, _ in receiver.received}
    assert ids == {"msg_att_1"}  # one id for every try: the receiver de-duplicates
    assert receiver.verified == [{"type": "call.ended"}]


def test_a_worker_killed_between_retries_delivers_once_after_it_restarts(
    tmp_path: Path,
) -> None:
    receiver = Receiver([503])
    path = tmp_path / "outbox.sqlite3"

    async def main() -> None:
        async with serve(receiver.app) as base:
            before = Outbox(path)
            payload = webhook_payload(f"{base}/hook", "msg_att_2", {"type": "call.ended"})
            before.add("webhook:att_2", "webhook", payload)
            senders = {"webhook": _webhook_sender(_settings())}
            await Deliverer(before, senders, policy=QUICK).deliver_due()
            before.close()  # the worker is killed while the webhook waits for its retry
            await asyncio.sleep(3600)
            after = Outbox(path)  # a new worker starts on the same directory
            try:
                await Deliverer(after, senders, policy=QUICK).deliver_due()
                delivery = after.get("webhook:att_2")
                assert delivery is not None and delivery.state == "done"
            finally:
                after.close()

    _run(main)
    assert [headers.get("webhook-id") for headers, _ in receiver.received] == [
        "msg_att_2",
        "msg_att_2",
    ]
    assert len(receiver.verified) == 1


@pytest.mark.parametrize(("status", "retried"), [(410, False), (400, False), (429, True)])
def test_a_refusal_is_not_retried_a_busy_receiver_is(
    tmp_path: Path, status: int, retried: bool
) -> None:
    receiver = Receiver([status])

    async def main() -> tuple[str, str | None, float]:
        outbox = Outbox(tmp_path / "outbox.sqlite3")
        try:
            async with serve(receiver.app) as base:
                outbox.add("webhook:att_3", "webhook", webhook_payload(f"{base}/hook", "m", {}))
                started = time.time()
                deliverer = Deliverer(outbox, {"webhook": _webhook_sender(_settings())})
                await deliverer.deliver_due()
            delivery = outbox.get("webhook:att_3")
            assert delivery is not None
            return delivery.state, delivery.detail, delivery.next_at - started
        finally:
            outbox.close()

    state, detail, wait = _run(main)
    assert detail == f"HTTP {status}"
    assert state == ("pending" if retried else "failed")
    if retried:
        assert wait >= 900  # its Retry-After


def test_a_slow_receiver_is_tried_again(tmp_path: Path) -> None:
    receiver = Receiver(delay=30.0)

    async def main() -> tuple[str, str | None]:
        outbox = Outbox(tmp_path / "outbox.sqlite3")
        try:
            async with serve(receiver.app) as base:
                outbox.add("webhook:att_4", "webhook", webhook_payload(f"{base}/hook", "m", {}))
                senders = {"webhook": _webhook_sender(_settings(WEBHOOK_TIMEOUT="5"))}
                await Deliverer(outbox, senders, policy=QUICK).deliver_due()
            delivery = outbox.get("webhook:att_4")
            assert delivery is not None
            return delivery.state, delivery.detail
        finally:
            outbox.close()

    assert _run(main) == ("pending", "no answer within 5 s")


def test_a_delivery_failing_for_too_long_is_given_up(tmp_path: Path) -> None:
    attempts: list[float] = []

    async def never(payload: dict[str, Any]) -> str:
        attempts.append(time.time())
        raise DeliveryError("HTTP 503", retryable=True)

    async def main() -> str | None:
        outbox = Outbox(tmp_path / "outbox.sqlite3")
        try:
            outbox.add("webhook:att_5", "webhook", {})
            deliverer = Deliverer(outbox, {"webhook": never}, policy=QUICK)
            await _deliver_until_settled(outbox, deliverer, "webhook:att_5", within=8 * 3600.0)
            delivery = outbox.get("webhook:att_5")
            assert delivery is not None and delivery.state == "failed"
            return delivery.detail
        finally:
            outbox.close()

    assert _run(main) == "HTTP 503"
    waits = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert waits[:4] == pytest.approx([60, 60, 120, 240], abs=61)  # doubling, minute polls
    assert max(waits) <= QUICK.longest + 60
    assert attempts[-1] - attempts[0] <= QUICK.give_up_after


def test_the_schedule_doubles_with_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(first=30.0, longest=3600.0, give_up_after=86400.0, jitter=0.2)
    rng = random.Random(7)

    class _Delivery:
        created_at = 0.0

        def __init__(self, attempts: int) -> None:
            self.attempts = attempts

    waits = [
        policy.next_try(_Delivery(n), now=0.0, retry_after=None, rng=rng)  # type: ignore[arg-type]
        for n in range(1, 10)
    ]
    bases = [30.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3600.0, 3600.0]
    for wait, base in zip(waits, bases, strict=True):
        assert wait is not None and 0.8 * base <= wait <= 1.2 * base
    later = policy.next_try(_Delivery(1), now=0.0, retry_after=500.0, rng=rng)  # type: ignore[arg-type]
    assert later is not None and later >= 500.0


def test_a_webhook_to_a_private_address_is_refused_for_good(tmp_path: Path) -> None:
    async def main() -> DeliveryError:
        payload = webhook_payload("http://10.0.0.7/hook", "m", {"type": "call.ended"})
        try:
            await send_webhook(payload, settings=_settings(), policy=EgressPolicy())
        except DeliveryError as err:
            return err
        raise AssertionError("a private address was reached")

    failure = _run(main)
    assert not failure.retryable and "not allowed" in str(failure)


def test_the_signing_secret_is_checked() -> None:
    from agent_runtime.errors import SettingsError

    with pytest.raises(SettingsError, match="WEBHOOK_SIGNING_SECRET"):
        WebhookSettings.from_env({"WEBHOOK_SIGNING_SECRET": "not a secret!"})


def test_the_body_is_the_event_as_json() -> None:
    payload = webhook_payload("https://hooks.acme.example", "msg_1", {"a": "é"})
    assert json.loads(payload["body"]) == {"a": "é"}


async def test_the_workers_delivery_loop_delivers_what_a_job_left(tmp_path: Path) -> None:
    receiver = Receiver()
    async with serve(receiver.app) as base:
        env = {
            "AGENT_REPORT_DIR": str(tmp_path),
            "WEBHOOK_SIGNING_SECRET": SECRET,
            "HTTP_TOOLS_ALLOW": "127.0.0.1",
        }
        settings = WorkerSettings.from_env(env)
        outbox = Outbox(settings.outbox_path)
        try:
            payload = webhook_payload(f"{base}/hook", "msg_att_9", {"type": "call.ended"})
            outbox.add("webhook:att_9", "webhook", payload)
            outbox.later("webhook:att_9", at=time.time(), reason="HTTP 503")  # the job's try
            loop = DeliveryLoop(settings, poll=0.05)
            loop.start()
            try:
                for _ in range(200):
                    delivery = outbox.get("webhook:att_9")
                    if delivery is not None and delivery.state == "done":
                        break
                    await asyncio.sleep(0.05)
            finally:
                await asyncio.to_thread(loop.stop)
            delivery = outbox.get("webhook:att_9")
            assert delivery is not None and delivery.state == "done"
        finally:
            outbox.close()
    assert len(receiver.verified) == 1


def test_without_a_secret_the_webhook_goes_unsigned_and_the_log_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    received: list[dict[str, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(dict(request.headers))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)

    async def main() -> str:
        async with serve(app) as base:
            payload = webhook_payload(f"{base}/hook", "msg_u", {"type": "call.ended"})
            settings = WebhookSettings.from_env({})
            return await send_webhook(payload, settings=settings, policy=LOCAL)

    assert _run(main) == "HTTP 200"
    (headers,) = received
    assert headers["webhook-id"] == "msg_u" and "webhook-signature" not in headers
    assert "webhook sent unsigned: WEBHOOK_SIGNING_SECRET is not set" in caplog.text


def test_status_events_deliver_their_own_and_leave_other_calls_deliveries_alone(
    tmp_path: Path,
) -> None:
    receiver = Receiver()

    async def main() -> None:
        outbox = Outbox(tmp_path / "outbox.sqlite3")
        try:
            # another job's SMS, due now: only a sender of SMS may try it
            outbox.add("sms:att_other", "sms", {"to": "+14155550123"}, at_most_once=True)
            async with serve(receiver.app) as base:
                events = StatusEvents(
                    outbox,
                    url=f"{base}/hook",
                    call_id="call_1",
                    attempt_id="att_1",
                    settings=_settings(),
                    policy=LOCAL,
                )
                for status in ("queued", "ringing", "ongoing"):
                    events.publish(status)
                await events.aclose()
            other = outbox.get("sms:att_other")
            assert other is not None and (other.state, other.attempts) == ("pending", 0)
            for status in ("queued", "ringing", "ongoing"):
                mine = outbox.get(f"status:att_1:{status}")
                assert mine is not None and mine.state == "done"
        finally:
            outbox.close()

    _run(main)
    sent = [json.loads(body)["call_attempt"]["status"] for _, body in receiver.received]
    assert sent == ["queued", "ringing", "ongoing"]

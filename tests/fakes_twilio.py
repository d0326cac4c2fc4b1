"""A local stand-in for Twilio's Messages API, and replays against local services.

It behaves like the real endpoint where the runtime depends on it: basic auth (account SID and
auth token, or an API key and secret), form-encoded ``To`` / ``From`` / ``Body``, 201 with the
Message resource (``sid``, ``status``, ``num_segments`` as a string), and error JSON with
``code`` / ``message`` / ``more_info`` / ``status`` (messages that quote the phone number, as
Twilio's do). Tests script extra answers (429 with ``Retry-After``, 5xx, a slow answer).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from agent_runtime.integrations.sms import measure
from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.local_server import serve
from agent_runtime.replay.recorded_call import RecordedCall
from agent_runtime.replay.run import ReplayResult, replay

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "twilio-secret-token-0042"
AGENT_NUMBER = "+14155550100"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")


@dataclass
class Scripted:
    """An answer given instead of the normal one (consumed in order)."""

    status: int
    json: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class SentMessage:
    """A message the fake accepted."""

    sid: str
    to: str
    sender: str
    body: str


class FakeTwilio:
    """Serves ``/2010-04-01/Accounts/{sid}/Messages.json`` like Twilio does."""

    def __init__(self) -> None:
        self.credentials = {ACCOUNT_SID: AUTH_TOKEN}
        self.owned_numbers = {AGENT_NUMBER}
        self.opted_out: set[str] = set()
        self.landlines: set[str] = set()
        self.script: list[Scripted] = []
        self.messages: list[SentMessage] = []
        self.requests = 0
        self.app = web.Application()
        self.app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)

    def env(self, base_url: str) -> dict[str, str]:
        """The environment that points the runtime at this fake."""
        return {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_BASE_URL": base_url,
        }

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        return web.json_response(body, status=status)

    def _authorized(self, request: web.Request, sid: str) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return self.credentials.get(user) == password and (user == sid or user.startswith("SK"))

    async def _create(self, request: web.Request) -> web.Response:
        self.requests += 1
        sid = request.match_info["sid"]
        form = await request.post()
        if self.script:
            answer = self.script.pop(0)
            await asyncio.sleep(answer.delay)
            if answer.status != 201:
                return web.json_response(answer.json, status=answer.status, headers=answer.headers)
        if not self._authorized(request, sid):
            return self._error(401, 20003, "Authenticate")
        to, sender, body = (str(form.get(k, "")) for k in ("To", "From", "Body"))
        if not E164.match(to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if sender not in self.owned_numbers:
            return self._error(
                400,
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone "
                "number or short code for your account.",
            )
        if not body:
            return self._error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return self._error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if to in self.opted_out:
            return self._error(400, 21610, "Attempt to send to unsubscribed recipient")
        if to in self.landlines:
            return self._error(400, 21614, f"'To' number {to} is not a valid mobile number")
        message = SentMessage("SM" + uuid.uuid4().hex, to, sender, body)
        self.messages.append(message)
        resource = {
            "sid": message.sid,
            "account_sid": sid,
            "to": to,
            "from": sender,
            "body": body,
            "status": "queued",
            "num_segments": str(measure(body).count),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message.sid}.json",
        }
        return web.json_response(resource, status=201)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def collect_logs() -> Iterator[list[logging.LogRecord]]:
    """Every log record at INFO and above while the block runs (INFO is switched on)."""
    root, collector = logging.getLogger(), _Collector()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(collector)
    try:
        yield collector.records
    finally:
        root.removeHandler(collector)
        root.setLevel(level)


def replay_with_service(
    folder: Path,
    app: web.Application,
    env: Callable[[str], Mapping[str, str]],
    output_dir: Path | None = None,
) -> ReplayResult:
    """Replay ``folder`` on the virtual clock with ``app`` served on the same loop.

    ``env(base_url)`` gives the integrations' environment pointing at the served ``app``.
    """
    recorded = RecordedCall.load(folder)

    async def main() -> ReplayResult:
        async with serve(app) as base_url:
            return await replay(
                recorded, inline_inference=True, env=env(base_url), output_dir=output_dir
            )

    result: ReplayResult = run_virtual(main)
    return result

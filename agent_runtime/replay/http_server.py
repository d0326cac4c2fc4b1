"""The outside HTTP services of a recorded call (``http.json``), served locally.

Each recorded answer names the request it answers (method and original URL). Replay rewrites
the recorded origins to this server, so the real tool clients run unchanged.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field


class RecordedAnswer(BaseModel):
    """One recorded HTTP exchange."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = "GET"
    url: str = Field(description="The original URL, query string included if it matters.")
    status: int = 200
    json_body: Any = Field(default=None, alias="json")
    text: str | None = None
    content_type: str | None = None
    delay: float = Field(default=0.0, ge=0)


class HttpScript(BaseModel):
    """The HTTP side of a recorded call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answers: list[RecordedAnswer] = Field(default_factory=list)

    def origins(self) -> set[str]:
        """The origins (scheme://host[:port]) the recorded requests went to."""
        return {f"{urlsplit(a.url).scheme}://{urlsplit(a.url).netloc}" for a in self.answers}


@dataclass(frozen=True)
class ReceivedRequest:
    """A request the local server received."""

    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


class RecordedHttpServer:
    """Answers requests with the recorded answers; 404 for anything unrecorded."""

    def __init__(self, script: HttpScript) -> None:
        self.script = script
        self.requests: list[ReceivedRequest] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._answer)

    def _find(self, method: str, path_qs: str) -> RecordedAnswer | None:
        path = path_qs.split("?", 1)[0]
        for answer in self.script.answers:
            recorded = urlsplit(answer.url)
            recorded_qs = recorded.path + (f"?{recorded.query}" if recorded.query else "")
            if answer.method != method:
                continue
            if recorded_qs == path_qs or (not recorded.query and recorded.path == path):
                return answer
        return None

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(
            ReceivedRequest(request.method, request.path_qs, dict(request.headers), body)
        )
        answer = self._find(request.method, request.path_qs)
        if answer is None:
            return web.json_response({"error": "no recorded answer"}, status=404)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.text is not None:
            return web.Response(
                status=answer.status,
                text=answer.text,
                content_type=answer.content_type or "text/plain",
            )
        return web.Response(
            status=answer.status,
            text=json.dumps(answer.json_body),
            content_type=answer.content_type or "application/json",
        )

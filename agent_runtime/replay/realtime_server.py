"""A local stand-in for the OpenAI Realtime API and its speech endpoint, on 127.0.0.1.

The real ``livekit-plugins-openai`` clients talk to it through ``OPENAI_BASE_URL``:

- ``GET /v1/realtime?model=...`` (WebSocket): the Realtime protocol as the 1.8.9 plugin speaks
  it. ``session.update`` is answered with ``session.updated``; ``conversation.item.create`` and
  ``.delete`` are confirmed; a committed caller turn becomes a user item, transcribed with what
  the script says was heard; each ``response.create`` is answered by the script's ``Turn``, as
  the GA API streams it (``response.created``, ``response.output_item.added``,
  ``conversation.item.added``, ``response.content_part.added``,
  ``response.output_audio_transcript.delta``, ``response.output_audio.delta`` with base64
  PCM16 at 24 kHz, the ``.done`` events and ``response.done``), or fails as the turn says;
- ``POST /v1/audio/speech``: the speech endpoint, answering with ``speech.audio.delta`` events
  (server-sent events of base64 PCM16 at 24 kHz), as ``gpt-4o-mini-tts`` does.

Every audio is a tone whose length follows the text's, so a test can find it in a recording.
The script sees the conversation as chat messages (``conversation``): what the caller said,
what was answered, the tool calls and their outputs. ``TurnScript`` answers in order (tests);
replay answers from a recorded call's ``llm.json`` (``realtime_script.py``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from aiohttp import WSMsgType, web

SAMPLE_RATE = 24000
SECONDS_PER_CHAR = 0.03
CHUNK = SAMPLE_RATE // 10  # 100 ms of audio per delta

Failure = Literal["error", "fatal", "close", "stall", "failed"]


@dataclass(frozen=True)
class Turn:
    """One scripted answer to a ``response.create``.

    ``text`` is spoken (transcript and audio); ``tool`` calls that tool with ``arguments``
    (JSON) instead; neither: the response has no output (the model lets the turn pass).
    ``fail`` fails it: ``error`` (a recoverable error event), ``fatal`` (an
    ``insufficient_quota`` error: the key can never succeed), ``close`` (the socket closes),
    ``stall`` (never answered), ``failed`` (``response.done`` with status ``failed``).
    ``again``: a failure that recurs on every later connection and response too (an outage).
    """

    text: str = ""
    tool: str | None = None
    arguments: str = "{}"
    fail: Failure | None = None
    again: bool = False
    heard: str = ""
    """What the caller said in the turn this answers (sent as its transcription)."""


class Script(Protocol):
    """What the stand-in answers."""

    def heard(self) -> str:
        """What the caller said in the turn just committed ("": no transcription)."""
        ...

    def answer(self, conversation: Sequence[dict[str, Any]]) -> Turn:
        """The answer to a ``response.create``, given the conversation so far."""
        ...


class TurnScript:
    """Answers with ``turns`` in order, then ``Okay.``.

    Each turn's ``heard`` transcribes the caller turn it answers.
    """

    def __init__(self, turns: Iterable[Turn]) -> None:
        self._turns = list(turns)

    def heard(self) -> str:
        """The next turn's ``heard``."""
        return self._turns[0].heard if self._turns else ""

    def answer(self, conversation: Sequence[dict[str, Any]]) -> Turn:
        """The next turn."""
        return self._turns.pop(0) if self._turns else Turn("Okay.")


@dataclass
class Connection:
    """A WebSocket session the stand-in accepted."""

    model: str
    authorized: bool
    events: list[dict[str, Any]] = field(default_factory=list)
    """The client events received, ``input_audio_buffer.append`` left out (see ``audio_bytes``)."""
    audio_bytes: int = 0

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """The received client events of this type."""
        return [e for e in self.events if e.get("type") == kind]


def tone(text: str) -> bytes:
    """PCM16 mono at 24 kHz: a 440 Hz tone, ``SECONDS_PER_CHAR`` per character of ``text``."""
    samples = max(CHUNK, int(len(text) * SECONDS_PER_CHAR * SAMPLE_RATE))
    t = np.arange(samples) / SAMPLE_RATE
    wave = 0.4 * np.sin(2 * np.pi * 440 * t) * 32767
    return wave.astype("<i2").tobytes()


class RealtimeStandIn:
    """Answers Realtime sessions from ``script`` and speaks any text it is sent."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.conversation: list[dict[str, Any]] = []
        """The conversation as chat messages (over all connections)."""
        self.connections: list[Connection] = []
        self.speech_requests: list[dict[str, Any]] = []
        self._outage: Turn | None = None
        self._ids = itertools.count(1)
        self.app = web.Application()
        self.app.router.add_get("/v1/realtime", self._realtime)
        self.app.router.add_post("/v1/audio/speech", self._speech)

    @property
    def responses_asked(self) -> int:
        """How many ``response.create`` events were received, over all connections."""
        return sum(len(c.of_type("response.create")) for c in self.connections)

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.speech_requests.append(body)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        audio = tone(str(body.get("input", "")))
        for start in range(0, len(audio), CHUNK * 2):
            delta = base64.b64encode(audio[start : start + CHUNK * 2]).decode()
            await _sse(response, {"type": "speech.audio.delta", "delta": delta})
        await _sse(response, {"type": "speech.audio.done", "usage": {}})
        await response.write_eof()
        return response

    async def _realtime(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = Connection(
            model=request.query.get("model", ""),
            authorized=request.headers.get("Authorization", "").startswith("Bearer "),
        )
        self.connections.append(connection)
        if self._outage is not None and self._outage.fail == "close":
            await ws.close()
            return ws
        await _send(ws, {"type": "session.created", "session": {"id": self._id("sess")}})
        last_item: str | None = None
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            event = json.loads(message.data)
            kind = event.get("type")
            if kind == "input_audio_buffer.append":
                connection.audio_bytes += len(base64.b64decode(event.get("audio", "")))
                continue
            connection.events.append(event)
            if kind == "session.update":
                await _send(ws, {"type": "session.updated", "session": event.get("session", {})})
            elif kind == "conversation.item.create":
                item = dict(event.get("item", {}))
                item.setdefault("id", self._id("item"))
                await _send(
                    ws,
                    {
                        "type": "conversation.item.added",
                        "previous_item_id": event.get("previous_item_id", last_item),
                        "item": item,
                    },
                )
                last_item = item["id"]
                self._note_item(item)
            elif kind == "input_audio_buffer.commit":
                last_item = await self._caller_turn(ws, last_item)
            elif kind == "conversation.item.delete":
                await _send(ws, {"type": "conversation.item.deleted", "item_id": event["item_id"]})
            elif kind == "response.create":
                turn = self._outage or self.script.answer(self.conversation)
                if turn.again:
                    self._outage = turn
                last_item = await self._answer(ws, event, turn, last_item) or last_item
                if ws.closed:
                    break
        return ws

    def _note_item(self, item: dict[str, Any]) -> None:
        """Add an item the client created to the conversation."""
        if item.get("type") == "function_call_output":
            message = {"role": "tool", "tool_call_id": item.get("call_id")}
            self.conversation.append(message | {"content": item.get("output", "")})
        elif item.get("type") == "message":
            parts = item.get("content") or []
            text = " ".join(str(p.get("text") or p.get("transcript") or "") for p in parts)
            self.conversation.append({"role": item.get("role"), "content": text})

    async def _caller_turn(self, ws: web.WebSocketResponse, last: str | None) -> str:
        """The caller's committed audio becomes an item, transcribed as the next turn says."""
        item_id = self._id("item")
        item = {"id": item_id, "type": "message", "role": "user", "content": []}
        await _send(ws, {"type": "input_audio_buffer.committed", "item_id": item_id})
        await _send(ws, {"type": "conversation.item.added", "previous_item_id": last, "item": item})
        heard = self._outage.heard if self._outage else self.script.heard()
        self.conversation.append({"role": "user", "content": heard})
        if heard:
            await _send(
                ws,
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": heard,
                },
            )
        return item_id

    async def _answer(
        self, ws: web.WebSocketResponse, event: dict[str, Any], turn: Turn, last: str | None
    ) -> str | None:
        """Play one scripted turn; the id of the message it added, if any."""
        if turn.fail == "stall":
            return None
        if turn.fail == "close":
            await ws.close()
            return None
        if turn.fail in ("error", "fatal"):
            code = "insufficient_quota" if turn.fail == "fatal" else "server_error"
            error = {"type": code, "code": code, "message": "scripted failure", "event_id": None}
            await _send(ws, {"type": "error", "error": error})
            return None
        metadata = (event.get("response") or {}).get("metadata")
        response: dict[str, Any] = {
            "id": self._id("resp"),
            "object": "realtime.response",
            "metadata": metadata,
        }
        await _send(
            ws, {"type": "response.created", "response": {**response, "status": "in_progress"}}
        )
        if turn.fail == "failed":
            details = {"type": "failed", "error": {"type": "server_error", "code": "server_error"}}
            failed = {**response, "status": "failed", "status_details": details, "output": []}
            await _send(ws, {"type": "response.done", "response": failed})
            return None
        if turn.tool is None and not turn.text:  # the model lets the turn pass
            passed = {**response, "status": "completed", "output": []}
            await _send(ws, {"type": "response.done", "response": passed})
            return None
        output = {"response_id": response["id"], "output_index": 0}
        item_id = self._id("item")
        if turn.tool is not None:
            item: dict[str, Any] = {"id": item_id, "type": "function_call", "name": turn.tool}
            item["call_id"] = self._id("call")
            added = {**item, "arguments": "", "status": "in_progress"}
            await _send(ws, {**output, "type": "response.output_item.added", "item": added})
            item |= {"arguments": turn.arguments, "status": "completed"}
            function = {"name": turn.tool, "arguments": turn.arguments}
            call = {"id": item["call_id"], "type": "function", "function": function}
            self.conversation.append({"role": "assistant", "tool_calls": [call]})
        else:
            item = await self._speak(ws, output, item_id, turn.text, last)
            self.conversation.append({"role": "assistant", "content": turn.text})
        await _send(ws, {**output, "type": "response.output_item.done", "item": item})
        usage = {"total_tokens": 10, "input_tokens": 5, "output_tokens": 5}
        done = {**response, "status": "completed", "output": [item], "usage": usage}
        await _send(ws, {"type": "response.done", "response": done})
        return item_id if turn.tool is None else None

    async def _speak(
        self,
        ws: web.WebSocketResponse,
        output: dict[str, Any],
        item_id: str,
        text: str,
        last: str | None,
    ) -> dict[str, Any]:
        """Stream an assistant message saying ``text``; the completed item."""
        message: dict[str, Any] = {"id": item_id, "type": "message", "role": "assistant"}
        message["content"] = []
        added = {**message, "status": "in_progress"}
        await _send(ws, {**output, "type": "response.output_item.added", "item": added})
        await _send(
            ws, {"type": "conversation.item.added", "previous_item_id": last, "item": message}
        )
        part = {**output, "item_id": item_id, "content_index": 0}
        await _send(ws, {**part, "type": "response.content_part.added", "part": {"type": "audio"}})
        await _send(ws, {**part, "type": "response.output_audio_transcript.delta", "delta": text})
        audio = tone(text)
        for start in range(0, len(audio), CHUNK * 2):
            delta = base64.b64encode(audio[start : start + CHUNK * 2]).decode()
            await _send(ws, {**part, "type": "response.output_audio.delta", "delta": delta})
        await _send(ws, {**part, "type": "response.output_audio.done"})
        await _send(
            ws, {**part, "type": "response.output_audio_transcript.done", "transcript": text}
        )
        content = {"type": "output_audio", "transcript": text}
        return {**message, "status": "completed", "content": [content]}


async def _send(ws: web.WebSocketResponse, event: dict[str, Any]) -> None:
    with contextlib.suppress(ConnectionResetError):
        await ws.send_str(json.dumps(event))


async def _sse(response: web.StreamResponse, event: dict[str, Any]) -> None:
    await response.write(f"data: {json.dumps(event)}\n\n".encode())
    await asyncio.sleep(0)

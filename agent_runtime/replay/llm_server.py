"""A local OpenAI-compatible chat completions server that answers from a recorded script.

Replay points the real ``livekit-plugins-openai`` client at it, so the whole client path
(streaming, tool calls, errors) runs as in production. Each scripted answer says *when* it
applies (the caller said something, a tool returned, the call just started); the server picks
the first unused answer whose condition matches the request, and re-serves the last matching
one when the same moment is asked again (a retried or re-generated reply).

The after-call steps ask the same LLM through a tool they require it to call: an answer for
one of them says ``{"offers_tool": "save_outcome"}`` and scripts that tool call, e.g.
``{"when": {"offers_tool": "save_outcome"}, "tool_calls": [{"name": "save_outcome",
"arguments": {"outcome": "completed", "summary": "..."}}]}``. Such a request (one whose
``tool_choice`` requires a tool) is answered only by ``offers_tool`` answers, never by a
conversation's answer whose words its transcript happens to contain.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field


class When(BaseModel):
    """The moment an answer applies to; every given condition must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    greeting: bool | None = Field(default=None, description="True: no user message yet.")
    user_contains: str | None = Field(default=None, description="In the last user message.")
    after_tool: str | None = Field(default=None, description="The last item is this tool's result.")
    offers_tool: str | None = Field(default=None, description="The request offers this tool.")


class ScriptedToolCall(BaseModel):
    """A tool call the LLM makes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ScriptedAnswer(BaseModel):
    """One recorded LLM answer: text, tool calls, or an HTTP error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: When = Field(default_factory=When)
    text: str = ""
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    ttft: float = Field(default=0.2, ge=0, description="Seconds before the first token.")
    token_interval: float = Field(default=0.02, ge=0, description="Seconds between tokens.")
    status: int = Field(default=200, description="An HTTP error status to answer with instead.")
    hang: bool = Field(default=False, description="Never answer (a provider that hangs).")
    stall_after: int | None = Field(
        default=None, ge=0, description="Send this many tokens, then nothing more (a stall)."
    )


class LLMScript(BaseModel):
    """The LLM side of a recorded call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answers: list[ScriptedAnswer] = Field(default_factory=list)


def _tool_names(body: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in body.get("tools", []) if "function" in t]


@dataclass
class ChatRequest:
    """A chat completions request as the server received it."""

    body: dict[str, Any]
    answered_with: int | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's messages."""
        messages: list[dict[str, Any]] = self.body.get("messages", [])
        return messages

    @property
    def tool_names(self) -> list[str]:
        """Names of the tools offered to the LLM."""
        return _tool_names(self.body)

    def describe(self) -> str:
        """What was asked, in a line: the moment of the call and the tools offered."""
        messages = self.messages
        users = [m for m in messages if m.get("role") == "user"]
        last = messages[-1] if messages else {}
        if last.get("role") == "tool":
            moment = "after a tool result"
        elif users:
            moment = f"after the caller said {_text(users[-1])[:80]!r}"
        else:
            moment = "for the greeting (no caller words yet)"
        tools = ", ".join(self.tool_names) or "none"
        forced = self.body.get("tool_choice") not in (None, "auto", "none")
        return f"{moment}; tools offered: {tools}" + ("; a tool call required" if forced else "")


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _matches(
    when: When, messages: Sequence[dict[str, Any]], tools: Sequence[str], *, forced: bool
) -> bool:
    if when.offers_tool is not None and when.offers_tool not in tools:
        return False
    if forced and when.offers_tool is None:
        return False  # a request that must call a tool (after the call) is no conversation turn
    users = [m for m in messages if m.get("role") == "user"]
    last = messages[-1] if messages else {}
    if when.greeting is not None and when.greeting != (not users):
        return False
    if when.user_contains is not None:
        if not users or when.user_contains.lower() not in _text(users[-1]).lower():
            return False
        if last.get("role") == "tool":
            return False
    if when.after_tool is not None:
        if last.get("role") != "tool":
            return False
        calls = {
            call["id"]: call["function"]["name"]
            for m in messages
            for call in m.get("tool_calls") or []
        }
        if calls.get(last.get("tool_call_id", "")) != when.after_tool:
            return False
    return True


def _echo(messages: Sequence[dict[str, Any]]) -> ScriptedAnswer:
    users = [m for m in messages if m.get("role") == "user"]
    said = _text(users[-1]).strip() if users else ""
    return ScriptedAnswer(text=f"You said: {said}" if said else "Hello! Say something.", ttft=0.1)


def pick_answer(
    script: LLMScript,
    used: set[int],
    messages: Sequence[dict[str, Any]],
    tools: Sequence[str],
    *,
    forced: bool,
) -> int | None:
    """The index of the answer to ``messages``; None when no answer matches.

    The first unused answer that matches (now marked in ``used``), else the last that matches.
    """
    matching = [
        i for i, a in enumerate(script.answers) if _matches(a.when, messages, tools, forced=forced)
    ]
    for index in matching:
        if index not in used:
            used.add(index)
            return index
    return matching[-1] if matching else None


class ScriptedLLMServer:
    """Serves ``/v1/chat/completions`` and ``/v1/models`` from an ``LLMScript``."""

    def __init__(self, script: LLMScript, *, model: str = "replay", echo: bool = False) -> None:
        self.script = script
        self.model = model
        self.echo = echo
        """Answer a conversation request no answer matches by repeating the caller's words
        (the console's offline mode) instead of an HTTP 500."""
        self.requests: list[ChatRequest] = []
        self._used: set[int] = set()
        self.app = web.Application()
        self.app.router.add_post("/v1/chat/completions", self._chat)
        self.app.router.add_get("/v1/models", self._models)

    def _pick(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[str], *, forced: bool
    ) -> int | None:
        return pick_answer(self.script, self._used, messages, tools, forced=forced)

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": self.model, "object": "model"}]}
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        forced = body.get("tool_choice") not in (None, "auto", "none")
        index = self._pick(body.get("messages", []), _tool_names(body), forced=forced)
        headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
        self.requests.append(ChatRequest(body=body, answered_with=index, headers=headers))
        if index is None and self.echo and not forced:
            return await self._stream(request, _echo(body.get("messages", [])))
        if index is None:
            unanswered = self.requests[-1].describe()
            return web.json_response(
                {"error": {"message": f"llm.json has no answer for this request ({unanswered})"}},
                status=500,
            )
        answer = self.script.answers[index]
        if answer.hang:
            await asyncio.Event().wait()
        if answer.status != 200:
            return web.json_response({"error": {"message": "recorded error"}}, status=answer.status)
        return await self._stream(request, answer)

    async def _stream(self, request: web.Request, answer: ScriptedAnswer) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.sleep(answer.ttft)
        for sent, (delta, finish) in enumerate(self._deltas(answer)):
            if sent == answer.stall_after:
                await asyncio.Event().wait()
            await response.write(self._chunk(delta, finish))
            if answer.token_interval:
                await asyncio.sleep(answer.token_interval)
        usage = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
        await response.write(self._chunk(None, None, usage=usage))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    @staticmethod
    def _deltas(answer: ScriptedAnswer) -> list[tuple[dict[str, Any], str | None]]:
        deltas: list[tuple[dict[str, Any], str | None]] = []
        words = answer.text.split(" ") if answer.text else []
        for i, word in enumerate(words):
            piece = word if i == 0 else f" {word}"
            deltas.append(({"role": "assistant", "content": piece}, None))
        for i, call in enumerate(answer.tool_calls):
            tool_call = {
                "index": i,
                "id": f"call_{uuid.uuid4().hex[:10]}",
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            deltas.append(({"role": "assistant", "tool_calls": [tool_call]}, None))
        finish: Literal["tool_calls", "stop"] = "tool_calls" if answer.tool_calls else "stop"
        deltas.append(({}, finish))
        return deltas

    def _chunk(
        self, delta: dict[str, Any] | None, finish: str | None, usage: dict[str, int] | None = None
    ) -> bytes:
        chunk: dict[str, Any] = {
            "id": "chatcmpl-replay",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage:
            chunk["usage"] = usage
        return f"data: {json.dumps(chunk)}\n\n".encode()

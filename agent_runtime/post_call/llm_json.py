"""Ask the call's text LLM for a JSON object, and the call's transcript as text for it.

Every provider returns reliable JSON as the arguments of a tool call, so a request offers one
raw function tool and requires the LLM to call it. Each request is made once (the LLM's own
retries are off) and bounded by a timeout; ``ask_checked`` adds one corrective retry that tells
the LLM what was wrong with its answer. The errors' words never hold a secret, a value of the
answer or a line of the transcript: they go into the call report as they are.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from livekit.agents import APIConnectOptions, APIError, APIStatusError, APITimeoutError, llm

from ..config.attempt import TranscriptRow
from ..report.model import CallReport

_T = TypeVar("_T")


class AskError(ValueError):
    """No usable answer came from the LLM; the message says why in a few words.

    A ``ValueError``, as the steps built on ``ask_for_json`` (the after-call SMS) promise.
    """


class BadAnswer(AskError):
    """The LLM answered, but the answer is not usable; a corrective retry may help."""


class LLMFailed(AskError):
    """The LLM could not be asked: it timed out, answered an HTTP error or was unreachable."""


async def ask_for_json(
    model: llm.LLM,
    *,
    system: str,
    user: str,
    tool_name: str,
    tool_description: str,
    schema: dict[str, Any],
    timeout: float,  # noqa: ASYNC109 - bounds one request, the after-call steps' own limit
    correction: str | None = None,
) -> dict[str, Any]:
    """The arguments the LLM gives ``tool_name``, asked once within ``timeout`` seconds.

    Args:
        model: The call's text LLM.
        system: The instructions (the system message).
        user: The material to work on (the user message): the transcript and its context.
        tool_name: The tool the LLM must call with its answer.
        tool_description: What the tool saves, for the LLM.
        schema: The JSON schema of the tool's arguments (an object).
        timeout: Seconds the whole answer may take.
        correction: What was wrong with a previous answer, told to the LLM after the material.

    Raises:
        BadAnswer: The LLM did not call the tool, or not with a JSON object.
        LLMFailed: The LLM timed out, answered an HTTP error or could not be reached.
    """
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content=system)
    ctx.add_message(role="user", content=user)
    if correction is not None:
        ctx.add_message(
            role="user",
            content=f"Your previous answer could not be used: {correction}. "
            f"Call {tool_name} again with a corrected answer.",
        )
    raw_schema = {"name": tool_name, "description": tool_description, "parameters": schema}
    tool = llm.function_tool(_not_run, raw_schema=raw_schema)
    options = APIConnectOptions(max_retry=0, timeout=timeout)
    try:
        async with asyncio.timeout(timeout):
            stream = model.chat(
                chat_ctx=ctx, tools=[tool], tool_choice="required", conn_options=options
            )
            answer = await stream.collect()
    except (TimeoutError, APITimeoutError):
        raise LLMFailed(f"the LLM did not answer within {timeout:g} s") from None
    except APIStatusError as err:
        raise LLMFailed(f"the LLM answered HTTP {err.status_code}") from None
    except APIError as err:
        raise LLMFailed(f"the LLM could not be asked ({type(err).__name__})") from None
    return _arguments(answer, tool_name)


async def ask_checked(
    model: llm.LLM,
    check: Callable[[dict[str, Any]], _T],
    *,
    system: str,
    user: str,
    tool_name: str,
    tool_description: str,
    schema: dict[str, Any],
    timeout: float,  # noqa: ASYNC109 - bounds each request
) -> _T:
    """The LLM's answer as ``check`` reads it, with one corrective retry of a bad answer.

    Asks as ``ask_for_json`` does. ``check`` raises ``BadAnswer`` saying what is wrong; those
    words are sent back to the LLM once. Each of the (at most two) requests has its own
    ``timeout``.

    Raises:
        BadAnswer: The answer was still bad after the corrective retry.
        LLMFailed: The LLM could not be asked (never retried).
    """
    ask = functools.partial(
        ask_for_json,
        model,
        system=system,
        user=user,
        tool_name=tool_name,
        tool_description=tool_description,
        schema=schema,
        timeout=timeout,
    )
    try:
        return check(await ask())
    except BadAnswer as err:
        correction = str(err)
    try:
        return check(await ask(correction=correction))
    except BadAnswer as err:
        raise BadAnswer(f"still invalid after a corrective retry: {err}") from None


def transcript_text(report: CallReport) -> str:
    """The call's transcript, one line per row: who spoke, or the tool call and its result.

    ``Caller: ...`` and ``Agent: ...`` for speech, ``[tool name(arguments) → output]`` for a
    tool call; empty speech rows are left out.
    """
    lines: list[str] = []
    for row in report.transcript or []:
        if row.role == "tool":
            lines.append(_tool_line(row))
        elif row.content.strip():
            speaker = "Caller" if row.role == "user" else "Agent"
            lines.append(f"{speaker}: {row.content.strip()}")
    return "\n".join(lines)


def _tool_line(row: TranscriptRow) -> str:
    arguments = row.tool_arguments or ""
    if isinstance(arguments, dict):
        arguments = json.dumps(arguments, ensure_ascii=False)
    output = row.tool_output or ""
    result = f"error: {output}" if row.tool_is_error else output
    return f"[tool {row.tool_name or '?'}({arguments}) → {result}]"


def _arguments(answer: llm.CollectedResponse, tool_name: str) -> dict[str, Any]:
    call = next((c for c in answer.tool_calls if c.name == tool_name), None)
    if call is None:
        raise BadAnswer(f"the answer did not call {tool_name}")
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        raise BadAnswer(f"the arguments of {tool_name} were not a JSON object")
    return arguments


async def _not_run(raw_arguments: dict[str, object]) -> None:
    """The tool's body: never run, the answer is read from the tool call itself."""

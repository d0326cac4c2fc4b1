"""The framework's answering-machine classifier, asked with the call's own text LLM.

The prompt and the categories are livekit-agents' AMD ones (``AMD_PROMPT``, ``AMDCategory``):
the LLM must call ``save_prediction`` with one label. It is asked only for greetings that the
cheaper signals left open, never through a cloud default, and a failure or a slow answer is
"cannot tell", never an error of the call.

Its requests leave no row in the transcript: a captured call (``AGENT_CAPTURE``) keeps each one
and its answer (``ASKED``), so that the imported call can answer them again.
"""

from __future__ import annotations

import asyncio
import json
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import APIConnectOptions, APIStatusError, APITimeoutError, llm
from livekit.agents.voice.amd.classifier import AMD_PROMPT, AMDCategory

from ..log import logger
from .detector import Classify, Kind

TIMEOUT = 2.0
"""Seconds the classifier may take (no retry) before the greeting counts as unclassified: the
callee may be a person waiting for an answer."""
TOOL = "save_prediction"
_KIND_OF_CATEGORY: dict[str, Kind | None] = {
    AMDCategory.HUMAN.value: "human",
    AMDCategory.MACHINE_VM.value: "voicemail",
    AMDCategory.MACHINE_UNAVAILABLE.value: "mailbox_full",
    AMDCategory.MACHINE_IVR.value: "ivr",
    AMDCategory.UNCERTAIN.value: None,
}


@dataclass(frozen=True)
class Asked:
    """A classifier request and how the LLM answered it."""

    heard: str
    """The words it asked about (the request's user message)."""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """The tool calls answered: name and arguments."""
    text: str = ""
    status: int | None = None
    """The HTTP error answered instead (500: it failed without one)."""
    timed_out: bool = False
    """No answer came within the timeout."""
    seconds: float = 0.0
    """How long the answer took."""


ASKED: ContextVar[list[Asked] | None] = ContextVar("classifier_asked", default=None)
"""Where the running call keeps its classifier requests (None: the call is not captured)."""


def _keep(asked: Asked) -> None:
    kept = ASKED.get()
    if kept is not None:
        kept.append(asked)


def _arguments(text: str | None) -> dict[str, Any]:
    try:
        arguments = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return arguments if isinstance(arguments, dict) else {}


def llm_classifier(model: llm.LLM, *, timeout: float = TIMEOUT) -> Classify:  # noqa: ASYNC109
    """A ``Classify`` that asks ``model`` with the framework's AMD prompt."""

    async def save_prediction(label: AMDCategory) -> None:
        """Save the prediction to the verdict."""

    tool = llm.function_tool(save_prediction, name=TOOL)

    async def classify(transcript: str) -> Kind | None:
        chat = llm.ChatContext()
        chat.add_message(role="system", content=AMD_PROMPT)
        chat.add_message(role="user", content=transcript)
        loop = asyncio.get_running_loop()
        asked_at = loop.time()
        try:
            async with asyncio.timeout(timeout):
                stream = model.chat(
                    chat_ctx=chat,
                    tools=[tool],
                    tool_choice="required",
                    conn_options=APIConnectOptions(max_retry=0, timeout=timeout),
                )
                async with stream:
                    response = await stream.collect()
        except Exception as err:  # the call goes on: the greeting stays unclassified
            logger.warning("the answering classifier failed: %s", type(err).__name__)
            if isinstance(err, (TimeoutError, APITimeoutError)):
                _keep(Asked(transcript, timed_out=True))
            else:
                status = err.status_code if isinstance(err, APIStatusError) else 500
                _keep(Asked(transcript, status=status, seconds=loop.time() - asked_at))
            return None
        calls = [(c.name, _arguments(c.arguments)) for c in response.tool_calls]
        _keep(Asked(transcript, calls, response.text, seconds=loop.time() - asked_at))
        for call in response.tool_calls:
            if call.name == TOOL:
                try:
                    label = json.loads(call.arguments or "{}").get("label")
                except (json.JSONDecodeError, AttributeError):
                    return None
                return _KIND_OF_CATEGORY.get(str(label))
        return None

    return classify

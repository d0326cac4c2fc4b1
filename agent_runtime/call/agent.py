"""The assistant agent: the config's instructions and tools, and the greeting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from livekit import rtc
from livekit.agents import Agent, llm

from ..config.spec import CallSpec

GREETING_INSTRUCTION = "Greet the person on the phone and start the conversation."


class AssistantAgent(Agent):
    """The agent of one call, built from its ``CallSpec``."""

    def __init__(
        self,
        spec: CallSpec,
        tools: list[llm.Tool | llm.Toolset],
        first_audio: Callable[[], Awaitable[AsyncIterator[rtc.AudioFrame] | None]],
    ) -> None:
        """``first_audio`` gives the static greeting's rendered audio (None: say it live)."""
        super().__init__(instructions=spec.instructions, tools=tools)
        self._spec = spec
        self._first_audio = first_audio

    async def on_enter(self) -> None:
        """Greet as ``first_sentence_mode`` says, after ``first_sentence_delay_ms``."""
        spec = self._spec
        mode = spec.assistant.first_sentence_mode
        if mode == "none" or (mode == "static" and not spec.first_sentence):
            return
        await asyncio.sleep(spec.first_sentence_delay_ms / 1000)
        if mode == "static" and spec.first_sentence:
            audio = await self._first_audio()
            if audio is not None:
                self.session.say(spec.first_sentence, audio=audio)
            else:
                self.session.say(spec.first_sentence)
        else:
            self.session.generate_reply(instructions=spec.first_sentence or GREETING_INSTRUCTION)

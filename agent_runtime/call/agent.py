"""The assistant agent: the config's instructions and tools, and the greeting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

from livekit import rtc
from livekit.agents import Agent, ModelSettings, StopResponse, llm, stt
from livekit.agents.voice.speech_handle import SpeechHandle

from ..config.spec import CallSpec
from ..turns.backchannel import BackchannelFilter
from .floor import Floor

GREETING_INSTRUCTION = "Greet the person on the phone and start the conversation."


class AssistantAgent(Agent):
    """The agent of one call, built from its ``CallSpec``."""

    def __init__(
        self,
        spec: CallSpec,
        tools: list[llm.Tool | llm.Toolset],
        first_audio: Callable[[], Awaitable[AsyncIterator[rtc.AudioFrame] | None]],
        *,
        floor: Floor,
        unanswered: Callable[[str], None],
        backchannels: BackchannelFilter | None = None,
    ) -> None:
        """Build the agent.

        ``first_audio`` gives the static greeting's rendered audio (None: say it live);
        ``floor`` says when the agent may greet and reply; ``unanswered`` is told what the
        callee said in a turn the agent let pass; ``backchannels`` holds back the caller's
        "mm-hm" said over the agent's speech.
        """
        super().__init__(
            instructions=spec.instructions,
            tools=tools,
            turn_handling={"preemptive_generation": floor.preemptive},
        )
        self._spec = spec
        self._first_audio = first_audio
        self._floor = floor
        self._unanswered = unanswered
        self._greeting: SpeechHandle | None = None
        self._greets = spec.assistant.first_sentence_mode != "none"
        self._backchannels = backchannels

    async def stt_node(
        self, audio: AsyncIterable[rtc.AudioFrame], model_settings: ModelSettings
    ) -> AsyncIterable[stt.SpeechEvent | str]:
        """The transcripts, without the backchannels said over the agent's speech."""
        events = Agent.default.stt_node(self, audio, model_settings)
        if self._backchannels is None:
            return events
        return self._backchannels.filter(events)

    async def on_enter(self) -> None:
        """Greet as ``first_sentence_mode`` says, ``first_sentence_delay_ms`` after the answer.

        On an outbound call the greeting waits for the floor: once a person is known to be there.
        """
        spec = self._spec
        mode = spec.assistant.first_sentence_mode
        entered = time.time()
        if not await self._floor.greeting():
            self._greets = False
            return
        if mode == "none" or (mode == "static" and not spec.first_sentence):
            self._greets = False
            self._floor.greeted()
            return
        await asyncio.sleep(max(0.0, spec.first_sentence_delay_ms / 1000 - (time.time() - entered)))
        if mode == "static" and spec.first_sentence:
            audio = await self._first_audio()
            if audio is not None:
                self._greeting = self.session.say(spec.first_sentence, audio=audio)
            else:
                self._greeting = self.session.say(spec.first_sentence)
        else:
            self._greeting = self.session.generate_reply(
                instructions=spec.first_sentence or GREETING_INSTRUCTION
            )
        self._greeting.add_done_callback(lambda _: self._floor.greeted())

    async def on_user_turn_completed(
        self, turn_ctx: llm.ChatContext, new_message: llm.ChatMessage
    ) -> None:
        """Let a turn pass unanswered while the floor is held.

        Also while the greeting owed on an outbound call answers it ("Hello?"). What was said
        stays in the conversation.
        """
        if self._floor.replies and not self._greeting_answers():
            return
        chat = self.chat_ctx.copy()
        chat.items.append(new_message)
        await self.update_chat_ctx(chat)
        self._floor.let_pass()
        self._unanswered(new_message.text_content or "")
        raise StopResponse()

    def _greeting_answers(self) -> bool:
        if not self._floor.detecting or not self._greets:
            return False
        return self._greeting is None or not self._greeting.done()

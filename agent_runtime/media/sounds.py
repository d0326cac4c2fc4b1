"""The call's sounds under the voice, from the assistant config.

``background_sound`` loops under the whole call at ``background_sound_volume``;
``thinking_sound`` plays at ``thinking_sound_volume`` while the agent processes, on a share
``thinking_sound_probability`` of the turns, drawn from a generator seeded by the call id so a
replay hears the same turns. Both are layers of the call's single output stream, so worker,
console and replay sound the same and the recording holds exactly what the caller heard.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from livekit.agents import AgentSession
from livekit.agents.voice.events import AgentStateChangedEvent, UserStateChangedEvent

from ..config.spec import CallSpec
from .clip_cache import LoopedClip, background_path, thinking_path
from .layers import AmbientLayer, ThinkingLayer
from .output import OutputLayer


@dataclass(frozen=True)
class CallSounds:
    """The layers a call mixes under the voice, and the thinking clip's link to the session."""

    layers: list[OutputLayer]
    thinking: ThinkingLayer | None = None

    @classmethod
    def for_call(cls, spec: CallSpec, *, sample_rate: int) -> CallSounds:
        """The sounds ``spec`` configures; no layer when neither sound is set (or audible)."""
        assistant = spec.assistant
        layers: list[OutputLayer] = []
        if assistant.background_sound and assistant.background_sound_volume > 0:
            clip = LoopedClip(background_path(assistant.background_sound), sample_rate)
            layers.append(AmbientLayer(clip, assistant.background_sound_volume))
        thinking = None
        if (
            assistant.thinking_sound
            and assistant.thinking_sound_volume > 0
            and assistant.thinking_sound_probability > 0
        ):
            thinking = ThinkingLayer(
                LoopedClip(thinking_path(assistant.thinking_sound), sample_rate),
                assistant.thinking_sound_volume,
                probability=assistant.thinking_sound_probability,
                rng=random.Random(spec.call.id),
                sample_rate=sample_rate,
            )
            layers.append(thinking)
        return cls(layers, thinking)

    def attach(self, session: AgentSession) -> None:
        """Follow ``session``'s agent state (thinking) and the caller's turns."""
        thinking = self.thinking
        if thinking is None:
            return

        def on_agent_state(ev: AgentStateChangedEvent) -> None:
            thinking.set_thinking(ev.new_state == "thinking")

        def on_user_state(ev: UserStateChangedEvent) -> None:
            if ev.new_state == "speaking":
                thinking.new_turn()

        session.on("agent_state_changed", on_agent_state)
        session.on("user_state_changed", on_user_state)

"""The call's voice, resolved once from ``assistant.voice`` into what each consumer needs.

The TTS factory takes the provider, voice id, speed and volume; the clip caches key rendered
sentences by ``key``; an offline stand-in voice (console, replay) takes ``speed`` and ``gain``.
``volume`` is Cartesia's only, as the API says ("ignored for other providers"): an ElevenLabs
voice has none, and the config check warns when one is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .assistant import Voice

DEFAULT_CARTESIA_VOICE = "f786b574-daa5-4673-aa0c-cbe3e8534c02"
"""Cartesia's default voice, used when the assistant has no ``voice``."""


@dataclass(frozen=True)
class VoiceProfile:
    """The voice of a call: provider, voice id, speed, and volume where the provider has one."""

    provider: Literal["cartesia", "elevenlabs"]
    voice_id: str
    speed: float | None
    """None: the provider's own default speed."""
    volume: float | None
    """Cartesia's volume (0.5-2.0); None for providers without one, or the provider default."""

    @classmethod
    def of(cls, voice: Voice | None) -> VoiceProfile:
        """The profile of ``voice``; Cartesia's default voice when there is none."""
        if voice is None:
            return cls("cartesia", DEFAULT_CARTESIA_VOICE, speed=None, volume=None)
        volume = voice.volume if voice.provider == "cartesia" else None
        return cls(voice.provider, voice.id, speed=voice.speed, volume=volume)

    @property
    def gain(self) -> float:
        """The linear gain a stand-in voice applies to sound as this provider would."""
        return self.volume if self.volume is not None else 1.0

    @property
    def key(self) -> str:
        """What identifies this voice's rendering of a text (clip caches)."""
        return f"{self.provider}|{self.voice_id}|{self.speed}|{self.volume}"
